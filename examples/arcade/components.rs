//! The arcade's data: the components and resources its scripts work with. Rust defines their
//! shapes and draws them; every rule about them is Luau in `assets/games/arcade/scripts/`.

use bevy_app::{App, Plugin};
use bevy_ecs::prelude::*;
use bevy_reflect::Reflect;

/// The board's size in world units, one unit per terminal cell: x to the right, y up, the
/// origin at the bottom-left corner.
#[derive(Resource, Reflect, Debug, Clone, Copy)]
#[reflect(Resource)]
pub struct Board {
    /// Columns.
    pub width: f32,
    /// Rows.
    pub height: f32,
}

impl Board {
    /// The board that fits an 80×24 terminal: a border, the score line and the status line
    /// around 78×20 cells.
    pub const STANDARD: Board = Board {
        width: 78.0,
        height: 20.0,
    };
}

/// The score line: points, wave, lives and the best score of the session.
#[derive(Resource, Reflect, Debug, Clone, Default)]
#[reflect(Resource)]
pub struct Score {
    /// Points this game.
    pub points: u32,
    /// The best score since the app started.
    pub high: u32,
    /// The wave being fought.
    pub wave: u32,
    /// Ships left.
    pub lives: u32,
}

/// A line of large text across the middle of the board (`WAVE 3`, `GAME OVER`); empty for none.
#[derive(Resource, Reflect, Debug, Clone, Default)]
#[reflect(Resource)]
pub struct Banner {
    /// The text.
    pub text: String,
}

/// The colours a glyph can take.
#[derive(Reflect, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tint {
    /// The terminal's default foreground.
    #[default]
    White,
    /// Red.
    Red,
    /// Yellow.
    Yellow,
    /// Green.
    Green,
    /// Cyan.
    Cyan,
    /// Magenta.
    Magenta,
    /// Blue.
    Blue,
    /// Dark grey.
    Gray,
}

/// What an entity looks like: text drawn from its `Transform`'s cell to the right. Spawning one
/// adds a `Transform` at the origin (a required component), which the script then places.
#[derive(Component, Reflect, Debug, Clone, Default)]
#[reflect(Component)]
#[require(bevy_transform::components::Transform)]
pub struct Glyph {
    /// One or a few characters.
    pub text: String,
    /// Its colour.
    pub tint: Tint,
}

/// Movement in units per second, applied by `scripts/motion.luau`.
#[derive(Component, Reflect, Debug, Clone, Default)]
#[reflect(Component)]
pub struct Velocity {
    /// Units per second.
    pub linear: bevy_math::Vec3,
}

/// The player's ship.
#[derive(Component, Reflect, Debug, Clone, Default)]
#[reflect(Component)]
pub struct Player {
    /// Seconds of invulnerability left after a hit.
    pub shield: f32,
}

/// An enemy: what it is worth and how much it takes to kill.
#[derive(Component, Reflect, Debug, Clone, Default)]
#[reflect(Component)]
pub struct Enemy {
    /// Points for destroying it.
    pub points: u32,
    /// Hits left.
    pub hp: u32,
}

/// A shot. `hostile` shots hurt the player; the others hurt enemies.
#[derive(Component, Reflect, Debug, Clone, Default)]
#[reflect(Component)]
pub struct Shot {
    /// Fired by an enemy.
    pub hostile: bool,
}

/// Registers the arcade's types for scripts (by reflection) and inserts its resources.
pub struct ArcadeTypesPlugin;

impl Plugin for ArcadeTypesPlugin {
    fn build(&self, app: &mut App) {
        app.register_type::<Board>()
            .register_type::<Score>()
            .register_type::<Banner>()
            .register_type::<Tint>()
            .register_type::<Glyph>()
            .register_type::<Velocity>()
            .register_type::<Player>()
            .register_type::<Enemy>()
            .register_type::<Shot>()
            .register_type::<bevy_transform::components::Transform>()
            .insert_resource(Board::STANDARD)
            .init_resource::<Score>()
            .init_resource::<Banner>();
    }
}
