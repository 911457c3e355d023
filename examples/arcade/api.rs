//! The arcade's own Lua library, `arena`: what Rust answers at once from its queries and
//! resources (`app.add_script_function`), where the scripts used to copy it into Lua tables
//! every frame or read, change and write back a whole resource.

use super::components::{Score, Shot};
use bevy_app::{App, Plugin};
use bevy_ecs::prelude::*;
use bevy_luau::prelude::*;
use bevy_math::Vec3;
use bevy_transform::components::Transform;

/// Registers `arena.shot_near` and `arena.award`.
pub struct ArcadeApiPlugin;

impl Plugin for ArcadeApiPlugin {
    fn build(&self, app: &mut App) {
        app.add_script_function(
            "arena.shot_near",
            shot_near.doc(
                "The nearest shot within radius of at, hostile (fired by enemies) or not, or nil.",
            ),
        )
        .add_script_function(
            "arena.award",
            award.doc("Adds points to the score (and to the best score when it is beaten); returns the score."),
        );
    }
}

fn shot_near(
    In((at, radius, hostile)): In<(Vec3, f32, bool)>,
    shots: Query<(Entity, &Transform, &Shot)>,
) -> Option<Entity> {
    shots
        .iter()
        .filter(|(_, _, shot)| shot.hostile == hostile)
        .map(|(entity, transform, _)| (entity, transform.translation.distance(at)))
        .filter(|(_, distance)| *distance < radius)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(entity, _)| entity)
}

fn award(In(points): In<u32>, mut score: ResMut<Score>) -> u32 {
    score.points = score.points.saturating_add(points);
    score.high = score.high.max(score.points);
    score.points
}
