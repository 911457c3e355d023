//! The real terminal: raw mode and the alternate screen through ratatui, keys from crossterm
//! turned into [`Keystroke`]s, and the [`Screen`] drawn each frame.
//!
//! Most terminals report a key going down and its auto-repeat, never a key going up. Where the
//! terminal supports the kitty keyboard protocol (kitty, WezTerm, foot, Ghostty, recent
//! Alacritty and others) releases are real. Elsewhere a key counts as held for [`FIRST_HOLD`]
//! after it goes down and [`REPEAT_HOLD`] after each repeat, which covers the usual auto-repeat
//! delay and rate, and is then released.

use super::game::Keystroke;
use super::screen::{HEIGHT, Screen, WIDTH};
use bevy_app::{App, AppExit, First, Last, Plugin};
use bevy_ecs::prelude::*;
use bevy_input::keyboard::KeyCode as Key;
use bevy_time::{Time, Virtual};
use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{
    self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, KeyboardEnhancementFlags,
    PopKeyboardEnhancementFlags, PushKeyboardEnhancementFlags,
};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::supports_keyboard_enhancement;
use ratatui::layout::Rect;
use ratatui::text::Line;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long a key counts as held after it goes down, when the terminal reports no releases:
/// longer than the usual auto-repeat delay (250–600 ms), so a held key never drops out.
pub const FIRST_HOLD: Duration = Duration::from_millis(600);
/// How long a key counts as held after an auto-repeat: longer than the usual repeat interval.
pub const REPEAT_HOLD: Duration = Duration::from_millis(120);

/// The terminal the game draws on.
#[derive(Resource)]
struct Terminal {
    terminal: DefaultTerminal,
    /// Whether key releases are reported.
    releases: bool,
    holds: Holds,
    /// Whether the game is paused because the terminal is too small.
    paused: bool,
}

/// Draws on the real terminal and reads its keyboard. Restores the terminal when the app exits
/// (see [`restore`]) and on a panic (ratatui's panic hook).
pub struct TerminalPlugin;

impl Plugin for TerminalPlugin {
    fn build(&self, app: &mut App) {
        let terminal = ratatui::init();
        let releases = matches!(supports_keyboard_enhancement(), Ok(true))
            && execute!(
                std::io::stdout(),
                PushKeyboardEnhancementFlags(KeyboardEnhancementFlags::REPORT_EVENT_TYPES)
            )
            .is_ok();
        app.insert_resource(Terminal {
            terminal,
            releases,
            holds: Holds::default(),
            paused: false,
        })
        .add_systems(First, read_keys)
        .add_systems(Last, show);
    }
}

/// Leaves raw mode and the alternate screen.
pub fn restore() {
    let _ = execute!(std::io::stdout(), PopKeyboardEnhancementFlags);
    ratatui::restore();
}

/// Keys that count as held without release events, and until when.
#[derive(Debug, Default)]
pub struct Holds(HashMap<Key, Instant>);

impl Holds {
    /// A key went down (`repeat`: again, by auto-repeat) at `now`. Returns whether that is news
    /// to the game: the key was not already held.
    pub fn down(&mut self, key: Key, repeat: bool, now: Instant) -> bool {
        let held = self.0.contains_key(&key);
        let hold = if held || repeat {
            REPEAT_HOLD
        } else {
            FIRST_HOLD
        };
        let until = now + hold;
        let entry = self.0.entry(key).or_insert(until);
        *entry = (*entry).max(until);
        !held
    }

    /// The keys whose hold ran out by `now`, which are released.
    pub fn expire(&mut self, now: Instant) -> Vec<Key> {
        let expired: Vec<Key> = self
            .0
            .iter()
            .filter(|(_, until)| **until <= now)
            .map(|(key, _)| *key)
            .collect();
        for key in &expired {
            self.0.remove(key);
        }
        expired
    }
}

fn read_keys(
    mut terminal: ResMut<Terminal>,
    mut keys: MessageWriter<Keystroke>,
    mut exit: MessageWriter<AppExit>,
) {
    let now = Instant::now();
    while matches!(event::poll(Duration::ZERO), Ok(true)) {
        let Ok(Event::Key(key)) = event::read() else {
            continue;
        };
        // Raw mode turns Ctrl-C into a key; it quits, whatever has the keyboard.
        if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
            exit.write(AppExit::Success);
            continue;
        }
        let (code, text) = translate(&key);
        match (key.kind, code) {
            (KeyEventKind::Release, Some(code)) => {
                keys.write(Keystroke::release(code));
            }
            (KeyEventKind::Release, None) => {}
            (kind, code) => {
                let repeat = kind == KeyEventKind::Repeat;
                let news = match code {
                    Some(code) if !terminal.releases => terminal.holds.down(code, repeat, now),
                    _ => !repeat,
                };
                // A repeat still types into the console.
                if news || text.is_some() {
                    keys.write(Keystroke {
                        code,
                        text,
                        pressed: true,
                    });
                }
            }
        }
    }
    if !terminal.releases {
        for code in terminal.holds.expire(now) {
            keys.write(Keystroke::release(code));
        }
    }
}

/// The Bevy key and the typed character of a terminal key.
pub fn translate(key: &KeyEvent) -> (Option<Key>, Option<char>) {
    let code = match key.code {
        KeyCode::Char(c) => char_key(c),
        KeyCode::Left => Some(Key::ArrowLeft),
        KeyCode::Right => Some(Key::ArrowRight),
        KeyCode::Up => Some(Key::ArrowUp),
        KeyCode::Down => Some(Key::ArrowDown),
        KeyCode::Enter => Some(Key::Enter),
        KeyCode::Esc => Some(Key::Escape),
        KeyCode::Backspace => Some(Key::Backspace),
        KeyCode::Tab => Some(Key::Tab),
        KeyCode::Delete => Some(Key::Delete),
        KeyCode::Home => Some(Key::Home),
        KeyCode::End => Some(Key::End),
        KeyCode::F(n) => function_key(n),
        _ => None,
    };
    let text = match key.code {
        KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => Some(c),
        _ => None,
    };
    (code, text)
}

/// The physical key of a typed character on a US layout, which is what Bevy's `KeyCode` names.
fn char_key(c: char) -> Option<Key> {
    const LETTERS: [Key; 26] = [
        Key::KeyA,
        Key::KeyB,
        Key::KeyC,
        Key::KeyD,
        Key::KeyE,
        Key::KeyF,
        Key::KeyG,
        Key::KeyH,
        Key::KeyI,
        Key::KeyJ,
        Key::KeyK,
        Key::KeyL,
        Key::KeyM,
        Key::KeyN,
        Key::KeyO,
        Key::KeyP,
        Key::KeyQ,
        Key::KeyR,
        Key::KeyS,
        Key::KeyT,
        Key::KeyU,
        Key::KeyV,
        Key::KeyW,
        Key::KeyX,
        Key::KeyY,
        Key::KeyZ,
    ];
    const DIGITS: [Key; 10] = [
        Key::Digit0,
        Key::Digit1,
        Key::Digit2,
        Key::Digit3,
        Key::Digit4,
        Key::Digit5,
        Key::Digit6,
        Key::Digit7,
        Key::Digit8,
        Key::Digit9,
    ];
    let lower = c.to_ascii_lowercase();
    Some(match lower {
        'a'..='z' => LETTERS[usize::from(lower as u8 - b'a')],
        '0'..='9' => DIGITS[usize::from(lower as u8 - b'0')],
        ' ' => Key::Space,
        '`' | '~' => Key::Backquote,
        '-' | '_' => Key::Minus,
        '=' | '+' => Key::Equal,
        '[' | '{' => Key::BracketLeft,
        ']' | '}' => Key::BracketRight,
        '\\' | '|' => Key::Backslash,
        ';' | ':' => Key::Semicolon,
        '\'' | '"' => Key::Quote,
        ',' | '<' => Key::Comma,
        '.' | '>' => Key::Period,
        '/' | '?' => Key::Slash,
        _ => return None,
    })
}

fn function_key(n: u8) -> Option<Key> {
    const KEYS: [Key; 12] = [
        Key::F1,
        Key::F2,
        Key::F3,
        Key::F4,
        Key::F5,
        Key::F6,
        Key::F7,
        Key::F8,
        Key::F9,
        Key::F10,
        Key::F11,
        Key::F12,
    ];
    KEYS.get(usize::from(n).checked_sub(1)?).copied()
}

/// Shows the frame; on a terminal smaller than the screen, says so instead and pauses the
/// game until it is large enough again.
fn show(mut terminal: ResMut<Terminal>, screen: Res<Screen>, mut time: ResMut<Time<Virtual>>) {
    let fits = terminal
        .terminal
        .size()
        .is_ok_and(|size| size.width >= WIDTH && size.height >= HEIGHT);
    if fits == terminal.paused {
        terminal.paused = !fits;
        if fits {
            time.unpause();
        } else {
            time.pause();
        }
    }
    let _ = terminal.terminal.draw(|frame| {
        let area = frame.area();
        if area.width < WIDTH || area.height < HEIGHT {
            let lines = [
                format!("The arcade needs an {WIDTH}x{HEIGHT} terminal;"),
                format!(
                    "this one is {}x{}. The game is paused: enlarge it, or press q to quit.",
                    area.width, area.height
                ),
            ];
            for (row, text) in lines.iter().enumerate() {
                let line = Line::from(text.as_str());
                let y = area.y + row as u16;
                if y < area.bottom() {
                    frame.render_widget(line, Rect::new(area.x, y, area.width, 1));
                }
            }
            return;
        }
        let buffer = frame.buffer_mut();
        for y in 0..HEIGHT {
            for x in 0..WIDTH {
                buffer[(area.x + x, area.y + y)] = screen.0[(x, y)].clone();
            }
        }
    });
}
