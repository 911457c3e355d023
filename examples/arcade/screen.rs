//! The arcade's screen: every frame, the world is drawn into an 80×24 cell buffer, which the
//! terminal shows (see `terminal.rs`) and tests and the demo read as text.
//!
//! ```text
//! row 0        score line: points, wave, lives, best
//! rows 1..=22  the board (78×20 cells) inside a border; the banner across its middle
//! row 23       status line: the console prompt, its last answer, a script error, or help
//! ```

use super::components::{Banner, Board, Glyph, Score, Tint};
use bevy_ecs::prelude::*;
use bevy_transform::components::Transform;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};

/// The screen's size in cells.
pub const WIDTH: u16 = 80;
/// The screen's size in cells.
pub const HEIGHT: u16 = 24;

/// The last drawn frame.
#[derive(Resource, Debug)]
pub struct Screen(pub Buffer);

impl Default for Screen {
    fn default() -> Self {
        Self(Buffer::empty(Rect::new(0, 0, WIDTH, HEIGHT)))
    }
}

impl Screen {
    /// The frame as plain text: one line per row, trailing spaces trimmed.
    pub fn text(&self) -> String {
        let area = self.0.area;
        let mut text = String::new();
        for y in 0..area.height {
            let mut line = String::new();
            for x in 0..area.width {
                line.push_str(self.0[(x, y)].symbol());
            }
            text.push_str(line.trim_end());
            text.push('\n');
        }
        text
    }

    /// The text of row `y`.
    #[allow(dead_code, reason = "for tests/arcade.rs")]
    pub fn row(&self, y: u16) -> String {
        self.text()
            .lines()
            .nth(usize::from(y))
            .unwrap_or("")
            .to_owned()
    }

    /// The board's cells as text, without its border: what is on the field.
    #[allow(dead_code, reason = "for tests/arcade.rs")]
    pub fn board(&self) -> String {
        let mut text = String::new();
        for y in 2..HEIGHT - 2 {
            for x in 1..WIDTH - 1 {
                text.push_str(self.0[(x, y)].symbol());
            }
            text.push('\n');
        }
        text
    }
}

/// What the bottom row shows.
#[derive(Resource, Debug, Default)]
pub struct StatusLine {
    /// The line and its colour, or `None` for the key help.
    pub message: Option<(String, Tint)>,
}

/// The console's input line while it is open.
#[derive(Resource, Debug, Default)]
pub struct ConsoleLine {
    /// Whether the console has the keyboard.
    pub open: bool,
    /// What has been typed.
    pub text: String,
    /// Lines run before, oldest first.
    pub history: Vec<String>,
}

/// The help the status line shows when it has nothing else to say.
pub const HELP: &str = "arrows/WASD move  space fire  ` console  q quit";

/// The cell of a world position on the screen, if it is on the board.
pub fn cell(board: &Board, position: bevy_math::Vec3) -> Option<(u16, u16)> {
    if !(position.x >= 0.0
        && position.x < board.width
        && position.y >= 0.0
        && position.y < board.height)
    {
        return None;
    }
    let column = position.x.floor() as u16;
    let row = (board.height - 1.0 - position.y.floor()) as u16;
    Some((1 + column, 2 + row))
}

fn color(tint: Tint) -> Color {
    match tint {
        Tint::White => Color::Reset,
        Tint::Red => Color::LightRed,
        Tint::Yellow => Color::Yellow,
        Tint::Green => Color::LightGreen,
        Tint::Cyan => Color::Cyan,
        Tint::Magenta => Color::Magenta,
        Tint::Blue => Color::LightBlue,
        Tint::Gray => Color::DarkGray,
    }
}

/// Draws the world into [`Screen`]: in `PostUpdate`, after the frame's scripts ran.
#[allow(clippy::too_many_arguments)]
pub fn draw(
    mut screen: ResMut<Screen>,
    board: Res<Board>,
    score: Res<Score>,
    banner: Res<Banner>,
    status: Res<StatusLine>,
    console: Res<ConsoleLine>,
    panel: Res<super::game::ConsolePanel>,
    time: Res<bevy_time::Time>,
    sprites: Query<(&Transform, &Glyph)>,
) {
    let buffer = &mut screen.0;
    buffer.reset();
    let plain = Style::default();
    let score_line = format!(
        " SCORE {:06}   WAVE {:<3}  LIVES {:<2}  BEST {:06}",
        score.points, score.wave, score.lives, score.high
    );
    buffer.set_string(0, 0, score_line, Style::default().fg(Color::Yellow));
    buffer.set_string(WIDTH - 16, 0, "LUAU ARCADE", plain.fg(Color::Cyan));

    let edge = plain.fg(Color::DarkGray);
    let horizontal = format!("+{}+", "-".repeat(usize::from(WIDTH - 2)));
    buffer.set_string(0, 1, &horizontal, edge);
    buffer.set_string(0, HEIGHT - 2, &horizontal, edge);
    for y in 2..HEIGHT - 2 {
        buffer.set_string(0, y, "|", edge);
        buffer.set_string(WIDTH - 1, y, "|", edge);
    }

    for (transform, glyph) in &sprites {
        let Some((x, y)) = cell(&board, transform.translation) else {
            continue;
        };
        // Text running past the right edge is cut at the border.
        let room = usize::from(WIDTH - 1 - x);
        buffer.set_stringn(x, y, &glyph.text, room, plain.fg(color(glyph.tint)));
    }

    if !banner.text.is_empty() {
        let text: String = banner.text.chars().take(usize::from(WIDTH - 4)).collect();
        let width = text.chars().count() as u16;
        let x = (WIDTH - width) / 2;
        buffer.set_string(x, 2 + HEIGHT / 2 - 3, text, plain.fg(Color::LightYellow));
    }

    // A console answer of several lines covers the top of the board for a while.
    if panel.until > time.elapsed_secs_f64() {
        let inner = usize::from(WIDTH - 2);
        for (row, text) in panel.lines.iter().take(usize::from(HEIGHT - 4)).enumerate() {
            let y = 2 + row as u16;
            buffer.set_string(1, y, " ".repeat(inner), plain);
            buffer.set_stringn(1, y, text, inner, plain.fg(Color::LightGreen));
        }
    }

    let width = usize::from(WIDTH);
    if console.open {
        let prompt = format!("> {}_", console.text);
        // Keep the end of a long line in view.
        let skip = prompt.chars().count().saturating_sub(width);
        let shown: String = prompt.chars().skip(skip).collect();
        buffer.set_string(0, HEIGHT - 1, shown, plain.fg(Color::LightGreen));
    } else if let Some((message, tint)) = &status.message {
        buffer.set_stringn(0, HEIGHT - 1, message, width, plain.fg(color(*tint)));
    } else {
        buffer.set_string(0, HEIGHT - 1, HELP, plain.fg(Color::DarkGray));
    }
}
