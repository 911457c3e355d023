//! [`ErrorLog`]: script errors logged once, then counted.
//!
//! A failing `on_update` fails every frame, for every entity that runs it. The first error from
//! one place (the script, the kind, and the message's first line, which holds `file:line`) is
//! logged in full with its traceback; the same error again within the second is only counted,
//! and once a second a line says how often it repeated. A place that stays quiet for a whole
//! second is forgotten, so its next error is logged in full again. Every error is still written
//! as a [`ScriptError`] message: only the log is limited.

use crate::error::{ScriptError, ScriptErrorKind};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long the repeats of one error are counted before a line reports them.
const WINDOW: Duration = Duration::from_secs(1);

/// Where an error comes from, as far as the log is concerned.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
struct Place {
    script: String,
    kind: ScriptErrorKind,
    /// The message's first line: `file:line: what went wrong`, without the traceback.
    first_line: String,
}

/// The errors of one place seen since `since`, beyond the one logged.
#[derive(Debug)]
struct Window {
    since: Instant,
    repeats: u32,
}

/// A line reporting the repeats of one error over the last second.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Repeated {
    pub script: String,
    pub kind: ScriptErrorKind,
    pub first_line: String,
    pub count: u32,
}

impl std::fmt::Display for Repeated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let times = if self.count == 1 { "time" } else { "times" };
        write!(
            f,
            "{} … repeated {} {times} in the last second",
            self.first_line, self.count
        )
    }
}

/// The places whose errors were logged in the last second, with their repeats. The clock is
/// passed in, so tests drive it by hand.
#[derive(Default, Debug)]
pub(crate) struct ErrorLog {
    places: HashMap<Place, Window>,
}

impl ErrorLog {
    /// Whether `error`, seen at `now`, is logged in full: the first from its place in a
    /// window. Otherwise it is counted for the next [`expire`](Self::expire).
    pub fn admit(&mut self, error: &ScriptError, now: Instant) -> bool {
        let place = Place {
            script: error.script.clone(),
            kind: error.kind,
            first_line: first_line(&error.message).to_owned(),
        };
        match self.places.get_mut(&place) {
            Some(window) => {
                window.repeats = window.repeats.saturating_add(1);
                false
            }
            None => {
                self.places.insert(
                    place,
                    Window {
                        since: now,
                        repeats: 0,
                    },
                );
                true
            }
        }
    }

    /// Ends the windows a second old at `now`: each place that repeated gets a line and a new
    /// window; a place that did not is forgotten. The lines are sorted.
    pub fn expire(&mut self, now: Instant) -> Vec<Repeated> {
        let mut lines = Vec::new();
        self.places.retain(|place, window| {
            if now.saturating_duration_since(window.since) < WINDOW {
                return true;
            }
            if window.repeats == 0 {
                return false;
            }
            lines.push(Repeated {
                script: place.script.clone(),
                kind: place.kind,
                first_line: place.first_line.clone(),
                count: window.repeats,
            });
            *window = Window {
                since: now,
                repeats: 0,
            };
            true
        });
        lines.sort_by(|a, b| (&a.script, &a.first_line).cmp(&(&b.script, &b.first_line)));
        lines
    }

    /// Whether nothing is being counted, so the step need not read the clock.
    pub fn is_empty(&self) -> bool {
        self.places.is_empty()
    }
}

fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(message: &str) -> ScriptError {
        ScriptError::new("scripts/enemy.luau", ScriptErrorKind::Runtime, message)
    }

    #[test]
    fn the_same_error_is_logged_once_then_counted_once_a_second() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let boom = error("scripts/enemy.luau:3: boom\nstack traceback:\n\t...");
        let mut log = ErrorLog::default();
        // 60 frames a second, three entities failing in each.
        let mut logged = 0;
        let mut lines = Vec::new();
        for frame in 0..120u64 {
            let now = at(frame * 1000 / 60);
            lines.extend(log.expire(now));
            for _ in 0..3 {
                logged += usize::from(log.admit(&boom, now));
            }
        }
        lines.extend(log.expire(at(2000)));
        assert_eq!(logged, 1, "logged in full once");
        let counts: Vec<u32> = lines.iter().map(|l| l.count).collect();
        assert_eq!(counts, [179, 180], "{lines:?}");
        assert_eq!(
            lines[0].to_string(),
            "scripts/enemy.luau:3: boom … repeated 179 times in the last second"
        );
        // Quiet for a second: forgotten, and the next one is logged in full again.
        assert!(log.expire(at(3100)).is_empty());
        assert!(log.is_empty());
        assert!(log.admit(&boom, at(3200)));
    }

    #[test]
    fn places_are_told_apart_by_script_kind_and_first_line() {
        let now = Instant::now();
        let mut log = ErrorLog::default();
        assert!(log.admit(&error("a.luau:1: boom\ntraceback one"), now));
        assert!(!log.admit(&error("a.luau:1: boom\ntraceback two"), now));
        assert!(log.admit(&error("a.luau:2: boom"), now));
        let other_kind = ScriptError::new(
            "scripts/enemy.luau",
            ScriptErrorKind::TypeMismatch,
            "a.luau:1: boom",
        );
        assert!(log.admit(&other_kind, now));
        let other_script = ScriptError::new(
            "scripts/boss.luau",
            ScriptErrorKind::Runtime,
            "a.luau:1: boom",
        );
        assert!(log.admit(&other_script, now));
        let lines = log.expire(now + WINDOW);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].count, 1);
        assert_eq!(
            lines[0].to_string(),
            "a.luau:1: boom … repeated 1 time in the last second"
        );
    }
}
