//! The arcade's platform: the app, the keyboard, the in-game console and the status line.
//! Every rule of the game lives in `assets/games/arcade/scripts/`.
//!
//! - The scripts run in `FixedUpdate`, 60 times a game second; the screen is drawn in
//!   `PostUpdate`.
//! - Keys arrive as [`Keystroke`] messages (from the terminal, or from a test). While the
//!   console is closed they become Bevy's `KeyboardInput`, so scripts read them through the
//!   `input` library; while it is open they edit the console line.

use super::api::ArcadeApiPlugin;
use super::components::{ArcadeTypesPlugin, Enemy, Tint};
use super::screen::{self, ConsoleLine, Screen, StatusLine};
use bevy_app::{App, AppExit, FixedUpdate, Plugin, PostUpdate, PreUpdate, TaskPoolPlugin};
use bevy_asset::AssetPlugin;
use bevy_ecs::prelude::*;
use bevy_input::keyboard::{Key, KeyCode, KeyboardInput, NativeKey};
use bevy_input::{ButtonState, InputPlugin, InputSystems};
use bevy_luau::prelude::*;
use bevy_time::{Fixed, Time, TimePlugin, TimeUpdateStrategy};
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The template folder under the asset folder.
pub const TEMPLATE: &str = "games/arcade";

/// The scripted pilot the demo flies with, beside the template's scripts but not listed in its
/// `game.toml`.
pub const PILOT: &str = "games/arcade/scripts/pilot.luau";

/// One fixed update: the game runs at 60 Hz.
pub const STEP: Duration = Duration::from_nanos(16_666_667);

/// How long the status line keeps a runtime error or a console answer, in seconds. A script
/// that does not compile keeps its error there until a version of it loads.
const STATUS_SECONDS: f64 = 8.0;

/// A key going down or up, from the terminal or a test.
#[derive(Message, Debug, Clone, PartialEq)]
pub struct Keystroke {
    /// The physical key, when it has a Bevy name.
    pub code: Option<KeyCode>,
    /// The character it types, for the console.
    pub text: Option<char>,
    /// Down (`true`) or up.
    pub pressed: bool,
}

impl Keystroke {
    /// A press of `code` that types nothing.
    #[allow(
        dead_code,
        reason = "tests/arcade.rs presses keys; the terminal sends typed ones"
    )]
    pub fn press(code: KeyCode) -> Self {
        Self {
            code: Some(code),
            text: None,
            pressed: true,
        }
    }

    /// A release of `code`.
    pub fn release(code: KeyCode) -> Self {
        Self {
            code: Some(code),
            text: None,
            pressed: false,
        }
    }
}

/// How many enemies make a crowded board, for [`StepTimes::crowded`].
pub const CROWD: usize = 300;

/// How long the scripting step took, over the frames since the app started.
#[derive(Resource, Debug, Default, Clone)]
pub struct StepTimes {
    started: Option<(Instant, usize)>,
    /// The last step.
    pub last: Duration,
    /// Every step.
    pub all: Steps,
    /// The steps that began with at least [`CROWD`] enemies on the board.
    pub crowded: Steps,
}

/// Step times over some frames.
#[derive(Debug, Default, Clone)]
pub struct Steps {
    /// The longest step.
    pub max: Duration,
    /// All steps together.
    pub total: Duration,
    /// How many steps ran.
    pub count: u32,
    /// The times of the last [`SAMPLES`] steps, oldest first.
    pub samples: VecDeque<Duration>,
}

/// How many step times [`Steps::percentile`] looks at: ten minutes at 60 Hz.
pub const SAMPLES: usize = 36_000;

impl Steps {
    fn add(&mut self, took: Duration) {
        self.max = self.max.max(took);
        self.total += took;
        self.count += 1;
        if self.samples.len() == SAMPLES {
            self.samples.pop_front();
        }
        self.samples.push_back(took);
    }

    /// The step time that `fraction` (0 to 1) of the last [`SAMPLES`] steps took at most.
    pub fn percentile(&self, fraction: f64) -> Duration {
        let mut sorted: Vec<Duration> = self.samples.iter().copied().collect();
        sorted.sort_unstable();
        let last = sorted.len().saturating_sub(1);
        let index = ((last as f64) * fraction.clamp(0.0, 1.0)).round() as usize;
        sorted.get(index).copied().unwrap_or_default()
    }

    /// The mean step time.
    pub fn average(&self) -> Duration {
        self.total.checked_div(self.count).unwrap_or_default()
    }
}

/// The status line's state: errors by script until that script loads again, and a short-lived
/// note (a console answer).
#[derive(Resource, Debug, Default)]
struct Status {
    /// Script path to (message, when it stops showing; `None` until the script loads).
    errors: BTreeMap<String, (String, Option<f64>)>,
    note: Option<(String, Tint, f64)>,
}

/// The arcade's platform: types, keys, console, status line, screen and step timing.
pub struct ArcadePlugin;

impl Plugin for ArcadePlugin {
    fn build(&self, app: &mut App) {
        app.add_plugins((ArcadeTypesPlugin, ArcadeApiPlugin))
            .add_message::<Keystroke>()
            .insert_resource(Time::<Fixed>::from_duration(STEP))
            .init_resource::<Screen>()
            .init_resource::<StatusLine>()
            .init_resource::<ConsoleLine>()
            .init_resource::<StepTimes>()
            .init_resource::<Status>()
            .init_resource::<Errors>()
            .init_resource::<EnteredLines>()
            .init_resource::<ConsolePanel>()
            .add_systems(PreUpdate, route_keys.before(InputSystems))
            .add_systems(
                FixedUpdate,
                (
                    start_step.before(ScriptingSystem),
                    end_step.after(ScriptingSystem),
                ),
            )
            .add_systems(
                PostUpdate,
                (track_status, screen::draw).chain().after(run_console),
            )
            .add_systems(PostUpdate, (run_console, keep_errors));
    }
}

/// A headless arcade app over the asset folder `assets`, without a runner: add
/// `ScheduleRunnerPlugin` (and a terminal), or call `update` yourself.
pub fn app(assets: PathBuf) -> App {
    let mut app = App::new();
    app.add_plugins((
        TaskPoolPlugin::default(),
        TimePlugin,
        InputPlugin,
        AssetPlugin {
            file_path: assets.to_string_lossy().into_owned(),
            watch_for_changes_override: Some(true),
            ..Default::default()
        },
        LuauScriptingPlugin {
            template: Some(TEMPLATE.into()),
            ..Default::default()
        }
        .in_schedule(FixedUpdate),
        ArcadePlugin,
    ));
    app
}

/// Makes every `app.update()` one fixed step of game time, whatever the wall clock says: the
/// demo and the tests run the same game on any machine.
pub fn lockstep(app: &mut App) {
    app.insert_resource(TimeUpdateStrategy::ManualDuration(STEP));
}

/// The demo: lockstep, and the scripted pilot flying the ship instead of the keyboard.
pub fn demo(app: &mut App) {
    lockstep(app);
    app.add_script(PILOT);
}

/// Every script error so far.
#[derive(Resource, Debug, Default)]
pub struct Errors(pub Vec<ScriptError>);

fn keep_errors(mut errors: MessageReader<ScriptError>, mut kept: ResMut<Errors>) {
    kept.0.extend(errors.read().cloned());
}

/// Keys go to the console while it is open, and to Bevy's keyboard input otherwise. The
/// backquote key opens and closes the console; `q`, Escape and Ctrl-C (sent as `q` by the
/// terminal) quit when it is closed.
fn route_keys(
    mut keys: MessageReader<Keystroke>,
    mut keyboard: MessageWriter<KeyboardInput>,
    mut console: ResMut<ConsoleLine>,
    mut lines: Local<Vec<String>>,
    mut exit: MessageWriter<AppExit>,
    mut commands: Commands,
    mut recalled: Local<Option<usize>>,
) {
    for key in keys.read() {
        if console.open {
            if !key.pressed {
                continue;
            }
            match key.code {
                Some(KeyCode::Enter) => {
                    let line = std::mem::take(&mut console.text);
                    console.open = false;
                    *recalled = None;
                    if !line.trim().is_empty() {
                        console.history.push(line.clone());
                        lines.push(line);
                    }
                }
                Some(KeyCode::Escape | KeyCode::Backquote) => {
                    console.open = false;
                    console.text.clear();
                    *recalled = None;
                }
                Some(KeyCode::Backspace) => {
                    console.text.pop();
                }
                Some(KeyCode::ArrowUp) if !console.history.is_empty() => {
                    let at = recalled
                        .map_or(console.history.len(), |i| i)
                        .saturating_sub(1);
                    *recalled = Some(at);
                    console.text = console.history[at].clone();
                }
                _ => {
                    if let Some(c) = key.text.filter(|c| !c.is_control()) {
                        console.text.push(c);
                    }
                }
            }
            continue;
        }
        match key.code {
            Some(KeyCode::Backquote) if key.pressed => {
                console.open = true;
                // Keys held when the console opened are let go, so the ship stops.
                commands.queue(|world: &mut World| {
                    if let Some(mut input) =
                        world.get_resource_mut::<bevy_input::ButtonInput<KeyCode>>()
                    {
                        input.release_all();
                    }
                });
            }
            Some(KeyCode::KeyQ | KeyCode::Escape) if key.pressed => {
                exit.write(AppExit::Success);
            }
            Some(code) => {
                keyboard.write(KeyboardInput {
                    key_code: code,
                    logical_key: Key::Unidentified(NativeKey::Unidentified),
                    state: if key.pressed {
                        ButtonState::Pressed
                    } else {
                        ButtonState::Released
                    },
                    text: None,
                    repeat: false,
                    window: Entity::PLACEHOLDER,
                });
            }
            None => {}
        }
    }
    // Lines entered this frame run in `run_console`, which has the whole world.
    if !lines.is_empty() {
        let entered = std::mem::take(&mut *lines);
        commands.queue(move |world: &mut World| {
            world.resource_mut::<EnteredLines>().0.extend(entered);
        });
    }
}

/// A console answer of several lines, shown over the board until `until` (game time).
#[derive(Resource, Debug, Default)]
pub struct ConsolePanel {
    /// The answer's lines.
    pub lines: Vec<String>,
    /// When it stops showing.
    pub until: f64,
}

/// Console lines waiting for [`run_console`].
#[derive(Resource, Debug, Default)]
struct EnteredLines(Vec<String>);

/// Runs the lines entered on the console and shows each answer on the status line.
fn run_console(world: &mut World) {
    let lines = std::mem::take(&mut world.resource_mut::<EnteredLines>().0);
    for line in lines {
        let now = world.resource::<Time>().elapsed_secs_f64();
        let (answer, tint) = match Console::execute(world, &line) {
            Ok(answer) if answer.is_empty() => (format!("> {line}"), Tint::Gray),
            // A table (`scripts`, `list`, `help`) goes over the board, with the scripts'
            // folder left out of paths so they fit.
            Ok(answer) if answer.contains('\n') => {
                let folder = format!("{TEMPLATE}/scripts/");
                let lines = answer.lines().map(|l| l.replace(&folder, "")).collect();
                *world.resource_mut::<ConsolePanel>() = ConsolePanel {
                    lines,
                    until: now + STATUS_SECONDS,
                };
                (format!("> {line}"), Tint::Green)
            }
            Ok(answer) => (answer, Tint::Green),
            Err(error) => (format!("error: {error}"), Tint::Red),
        };
        world.resource_mut::<Status>().note = Some((answer, tint, now + STATUS_SECONDS));
    }
}

/// Keeps the status line current: the newest script error until its script loads again (or a
/// while, for an error at run time), else the last console answer for a while, else help.
fn track_status(
    mut errors: MessageReader<ScriptError>,
    mut loaded: MessageReader<ScriptLoaded>,
    mut state: ResMut<Status>,
    mut line: ResMut<StatusLine>,
    time: Res<Time>,
) {
    let now = time.elapsed_secs_f64();
    for error in errors.read() {
        // A version that failed to load is fixed by the next one that loads; an error at run
        // time shows for a while, and again each time it happens.
        let until = (error.kind != ScriptErrorKind::Compile).then_some(now + STATUS_SECONDS);
        let first_line = error.message.lines().next().unwrap_or_default();
        state
            .errors
            .insert(error.script.clone(), (first_line.to_owned(), until));
    }
    for script in loaded.read() {
        state.errors.remove(&script.path);
        if script.reloaded {
            let note = format!("reloaded {}", script.path);
            state.note = Some((note, Tint::Cyan, now + STATUS_SECONDS / 2.0));
        }
    }
    state
        .errors
        .retain(|_, (_, until)| until.is_none_or(|t| t > now));
    if state
        .note
        .as_ref()
        .is_some_and(|(_, _, until)| *until <= now)
    {
        state.note = None;
    }
    line.message = match (state.errors.values().next(), &state.note) {
        (Some((message, _)), _) => Some((format!("error: {message}"), Tint::Red)),
        (None, Some((note, tint, _))) => Some((note.clone(), *tint)),
        (None, None) => None,
    };
}

fn start_step(mut times: ResMut<StepTimes>, enemies: Query<(), With<Enemy>>) {
    times.started = Some((Instant::now(), enemies.iter().len()));
}

fn end_step(mut times: ResMut<StepTimes>) {
    if let Some((started, enemies)) = times.started.take() {
        let took = started.elapsed();
        times.last = took;
        times.all.add(took);
        if enemies >= CROWD {
            times.crowded.add(took);
        }
    }
}
