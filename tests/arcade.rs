//! The arcade example, driven headless: the same app as `cargo run --example arcade`, with keys
//! sent as the terminal sends them and the screen read from its cell buffer, one fixed step of
//! game time per `update`.

#![cfg(all(feature = "transform", feature = "input"))]

#[path = "../examples/arcade"]
#[allow(
    dead_code,
    reason = "the terminal's drawing and the demo's printing are not tested here"
)]
mod arcade {
    pub mod api;
    pub mod components;
    pub mod game;
    pub mod options;
    pub mod screen;
    pub mod terminal;
}

#[path = "../examples/common/debug_flag.rs"]
#[allow(
    dead_code,
    reason = "adding the debugger is the game's part; the tests read the flag"
)]
mod debug_flag;

mod common;

use arcade::components::{Board, Enemy, Player, Score, Shot};
use arcade::game::{self, Errors, Keystroke, StepTimes};
use arcade::options::{self, DEMO_FRAMES, Options};
use arcade::screen::{HEIGHT, Screen, WIDTH};
use arcade::terminal::{FIRST_HOLD, Holds, REPEAT_HOLD, translate};
use bevy_app::App;
use bevy_ecs::prelude::*;
use bevy_input::keyboard::KeyCode;
use bevy_luau::prelude::*;
use bevy_transform::components::Transform;
use common::{edit, game_copy};
use ratatui::crossterm::event::{KeyCode as TermKey, KeyEvent, KeyModifiers};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a test waits for something that depends on the file watcher or the worker pool.
const PATIENCE: Duration = Duration::from_secs(30);

fn assets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets")
}

/// The arcade over `assets`, in lockstep, with its first frame run.
fn start(assets: PathBuf) -> App {
    let mut app = game::app(assets);
    game::lockstep(&mut app);
    app.finish();
    app.cleanup();
    app.update();
    app
}

/// Runs frames until `done` holds; fails the test after [`PATIENCE`].
fn run_until(app: &mut App, what: &str, mut done: impl FnMut(&mut World) -> bool) {
    let started = Instant::now();
    while !done(app.world_mut()) {
        assert!(started.elapsed() < PATIENCE, "waited too long for {what}");
        app.update();
        assert_no_errors(app);
    }
}

fn frames(app: &mut App, count: u32) {
    for _ in 0..count {
        app.update();
    }
}

fn assert_no_errors(app: &App) {
    let errors = &app.world().resource::<Errors>().0;
    assert!(errors.is_empty(), "{errors:#?}");
}

fn ship(world: &mut World) -> Option<(Entity, Vec3Pos)> {
    let mut ships = world.query_filtered::<(Entity, &Transform), With<Player>>();
    ships
        .iter(world)
        .next()
        .map(|(e, t)| (e, Vec3Pos(t.translation.x, t.translation.y)))
}

#[derive(Debug, Clone, Copy)]
struct Vec3Pos(f32, f32);

fn enemies(world: &mut World) -> Vec<(Entity, Vec3Pos)> {
    let mut query = world.query_filtered::<(Entity, &Transform), With<Enemy>>();
    query
        .iter(world)
        .map(|(e, t)| (e, Vec3Pos(t.translation.x, t.translation.y)))
        .collect()
}

fn key(app: &mut App, stroke: Keystroke) {
    app.world_mut().write_message(stroke);
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        let event = KeyEvent::new(TermKey::Char(c), KeyModifiers::NONE);
        let (code, text) = translate(&event);
        key(
            app,
            Keystroke {
                code,
                text,
                pressed: true,
            },
        );
    }
}

fn screen(app: &App) -> &Screen {
    app.world().resource::<Screen>()
}

#[test]
fn the_ship_moves_on_key_presses() {
    let mut app = start(assets());
    // A new ship blinks behind its shield for two seconds; wait until it shows steadily.
    run_until(&mut app, "the ship's shield to drop", |w| {
        let mut players = w.query::<&Player>();
        players.iter(w).any(|p| p.shield == 0.0)
    });
    let (_, before) = ship(app.world_mut()).expect("ship");

    key(&mut app, Keystroke::press(KeyCode::ArrowRight));
    frames(&mut app, 10);
    let (_, moved) = ship(app.world_mut()).expect("ship");
    assert!(moved.0 > before.0 + 3.0, "{before:?} -> {moved:?}");

    key(&mut app, Keystroke::release(KeyCode::ArrowRight));
    frames(&mut app, 1);
    let (_, stopped) = ship(app.world_mut()).expect("ship");
    frames(&mut app, 10);
    let (_, still) = ship(app.world_mut()).expect("ship");
    assert_eq!(still.0, stopped.0, "the ship stops when the key goes up");

    key(&mut app, Keystroke::press(KeyCode::KeyA));
    frames(&mut app, 10);
    let (_, back) = ship(app.world_mut()).expect("ship");
    assert!(back.0 < still.0 - 3.0, "{still:?} -> {back:?}");

    // The ship is drawn where it is.
    let board = *app.world().resource::<Board>();
    let at = bevy_math::Vec3::new(back.0, back.1, 0.0);
    let (column, row) = arcade::screen::cell(&board, at).expect("on the board");
    let row = screen(&app).row(row);
    assert_eq!(row.chars().nth(usize::from(column)), Some('A'), "{row:?}");
    assert_no_errors(&app);
}

#[test]
fn a_wave_arrives_after_its_announcement_and_a_shot_enemy_scores() {
    let mut app = start(assets());
    run_until(&mut app, "the first wave's banner", |w| {
        w.resource::<arcade::components::Banner>().text == "WAVE 1"
    });
    assert!(screen(&app).text().contains("WAVE 1"));
    // The wave's enemies come 1.5 s of game time after its banner: none before.
    let mut frames_waited = 0;
    run_until(&mut app, "the first enemy", |w| {
        frames_waited += 1;
        !enemies(w).is_empty()
    });
    assert!(frames_waited >= 85, "enemies after {frames_waited} frames");
    frames(&mut app, 60);
    let before = app.world().resource::<Score>().points;

    // A shot just below an enemy hits it on the next step.
    let (target, at) = enemies(app.world_mut())[0];
    let points = app.world().get::<Enemy>(target).expect("enemy").points;
    let hp = app.world().get::<Enemy>(target).expect("enemy").hp;
    for _ in 0..hp {
        let Some(at) = app.world().get::<Transform>(target).map(|t| t.translation) else {
            break;
        };
        app.world_mut().spawn((
            Shot { hostile: false },
            Transform::from_xyz(at.x, at.y - 0.5, 0.0),
        ));
        app.update();
    }
    assert!(
        app.world().get_entity(target).is_err(),
        "the enemy at {at:?} survived"
    );
    assert_eq!(app.world().resource::<Score>().points, before + points);
    assert!(
        screen(&app)
            .row(0)
            .contains(&format!("SCORE {:06}", before + points))
    );
    assert_no_errors(&app);
}

#[test]
fn the_demo_pilot_scores() {
    let mut app = game::app(assets());
    game::demo(&mut app);
    app.finish();
    app.cleanup();
    for _ in 0..1500 {
        app.update();
    }
    assert_no_errors(&app);
    let score = app.world().resource::<Score>();
    assert!(score.points > 0, "{score:?}");
    let times = app.world().resource::<StepTimes>();
    // One fixed step per frame in lockstep, except the first frame, which starts the clock.
    assert_eq!(times.all.count, 1499);
    // The last frame fits the terminal.
    let text = screen(&app).text();
    assert_eq!(text.lines().count(), usize::from(HEIGHT));
    assert!(
        text.lines()
            .all(|l| l.chars().count() <= usize::from(WIDTH))
    );
}

#[test]
fn the_console_sets_cvars_and_runs_lua_commands() {
    let mut app = start(assets());
    run_until(&mut app, "the ship", |w| ship(w).is_some());
    typed(&mut app, "`set arcade_speed 2");
    app.update();
    assert!(
        screen(&app)
            .row(HEIGHT - 1)
            .starts_with("> set arcade_speed 2_")
    );
    // While the console is open, keys do not reach the game: `a` did not move the ship, and
    // `q` does not quit.
    typed(&mut app, "q");
    key(&mut app, Keystroke::press(KeyCode::Backspace));
    key(&mut app, Keystroke::press(KeyCode::Enter));
    app.update();
    assert!(app.should_exit().is_none());
    let registry = app.world().resource::<CVarRegistry>();
    assert_eq!(registry.get("arcade_speed"), Some(&CVarValue::Float(2.0)));
    assert!(screen(&app).row(HEIGHT - 1).contains("arcade_speed"));

    // A command written in Lua, and a mistake.
    typed(&mut app, "`score");
    key(&mut app, Keystroke::press(KeyCode::Enter));
    app.update();
    assert!(
        screen(&app).row(HEIGHT - 1).starts_with("score 0, wave"),
        "{}",
        screen(&app).row(HEIGHT - 1)
    );
    typed(&mut app, "`set arcade_speed fast");
    key(&mut app, Keystroke::press(KeyCode::Enter));
    app.update();
    assert!(screen(&app).row(HEIGHT - 1).starts_with("error:"));
    assert_eq!(
        app.world().resource::<CVarRegistry>().get("arcade_speed"),
        Some(&CVarValue::Float(2.0))
    );
    // The built-in `scripts` table shows over the board.
    typed(&mut app, "`scripts");
    key(&mut app, Keystroke::press(KeyCode::Enter));
    app.update();
    let board = screen(&app).text();
    let rows: Vec<&str> = board.lines().collect();
    assert!(rows[2].starts_with("|scripting step"), "{board}");
    assert!(board.contains("  ship.luau"), "{board}");
    // Outside the console, q quits.
    key(&mut app, Keystroke::press(KeyCode::KeyQ));
    app.update();
    assert!(app.should_exit().is_some());
}

#[test]
fn a_script_edit_reaches_running_enemies_and_a_broken_one_keeps_them_going() {
    let dir = game_copy("arcade");
    let drone = dir.path().join("games/arcade/scripts/enemies/drone.luau");
    let mut app = start(dir.path().to_path_buf());
    run_until(&mut app, "drones", |w| enemies(w).len() >= 4);
    frames(&mut app, 30);

    // The new version marks every drone; their fields (place, phase, age) carry on.
    edit(
        &drone,
        "    transform.set_position(self.entity, at)\n",
        "    transform.set_position(self.entity, at)\n    local g = ecs.ref(self.entity, \"Glyph\")\n    if g then g.text = \"M\" end\n",
    );
    // Where the drones were in the frame before the new version ran, and in the frame after.
    let mut before = enemies(app.world_mut());
    let mut after = Vec::new();
    run_until(&mut app, "the edit to reach the drones", |w| {
        let mut glyphs = w.query_filtered::<&arcade::components::Glyph, With<Enemy>>();
        let reached = glyphs.iter(w).any(|g| g.text == "M");
        if reached {
            after = enemies(w);
        } else {
            before = enemies(w);
        }
        reached
    });
    let mut glyphs = app
        .world_mut()
        .query_filtered::<&arcade::components::Glyph, With<Enemy>>();
    let drones = glyphs.iter(app.world()).filter(|g| g.text == "M").count();
    assert!(
        drones >= before.len(),
        "{drones} marked of {}",
        before.len()
    );
    for (entity, was) in &before {
        let now = after.iter().find(|(e, _)| e == entity);
        let (_, now) = now.unwrap_or_else(|| panic!("{entity} was respawned or lost"));
        // Positions follow from the kept fields (place, phase, age): one frame's move, no jump
        // back to the formation's start.
        assert!(
            (now.0 - was.0).abs() < 0.5 && (now.1 - was.1).abs() < 0.5,
            "{entity} jumped from {was:?} to {now:?}"
        );
    }
    assert!(screen(&app).board().contains('M'));

    // A broken save: the error shows on the status line, and the drones keep moving.
    std::fs::write(
        &drone,
        "local Drone = {}\nfunction Drone.on_update(self\nreturn Drone\n",
    )
    .expect("write");
    let started = Instant::now();
    while !app
        .world()
        .resource::<Errors>()
        .0
        .iter()
        .any(|e| e.kind == ScriptErrorKind::Compile)
    {
        assert!(
            started.elapsed() < PATIENCE,
            "the broken save was not reported"
        );
        app.update();
    }
    app.update();
    let status = screen(&app).row(HEIGHT - 1);
    assert!(
        status.starts_with("error:") && status.contains("drone.luau"),
        "{status:?}"
    );
    let moving = enemies(app.world_mut());
    frames(&mut app, 20);
    let later = enemies(app.world_mut());
    assert!(
        moving
            .iter()
            .zip(&later)
            .any(|((_, a), (_, b))| a.0 != b.0 || a.1 != b.1),
        "the drones stopped"
    );
    assert!(
        screen(&app).board().contains('M'),
        "the old version still runs"
    );

    // Fixing it clears the error.
    edit(
        &drone,
        "function Drone.on_update(self\n",
        "function Drone.on_update(self)\nend\n",
    );
    let started = Instant::now();
    while screen(&app).row(HEIGHT - 1).starts_with("error:") {
        assert!(
            started.elapsed() < PATIENCE,
            "the fixed save did not clear the error"
        );
        app.update();
    }
    assert!(screen(&app).row(HEIGHT - 1).contains("reloaded"));
}

#[test]
fn the_terminal_holds_keys_it_cannot_see_released() {
    let mut holds = Holds::default();
    let start = Instant::now();
    assert!(holds.down(KeyCode::ArrowLeft, false, start), "news");
    assert!(
        !holds.down(KeyCode::ArrowLeft, true, start + REPEAT_HOLD),
        "already held"
    );
    assert!(
        holds
            .expire(start + FIRST_HOLD - Duration::from_millis(1))
            .is_empty()
    );
    // An auto-repeat keeps it held past the first hold.
    let repeat = start + FIRST_HOLD - Duration::from_millis(10);
    holds.down(KeyCode::ArrowLeft, true, repeat);
    assert!(holds.expire(start + FIRST_HOLD).is_empty());
    assert_eq!(holds.expire(repeat + REPEAT_HOLD), vec![KeyCode::ArrowLeft]);
    assert!(
        holds.down(KeyCode::ArrowLeft, false, repeat + REPEAT_HOLD),
        "pressed anew"
    );
}

#[test]
fn terminal_keys_become_bevy_keys() {
    let press = |code| translate(&KeyEvent::new(code, KeyModifiers::NONE));
    assert_eq!(press(TermKey::Char('a')), (Some(KeyCode::KeyA), Some('a')));
    assert_eq!(press(TermKey::Char('A')), (Some(KeyCode::KeyA), Some('A')));
    assert_eq!(press(TermKey::Char(' ')), (Some(KeyCode::Space), Some(' ')));
    assert_eq!(
        press(TermKey::Char('`')),
        (Some(KeyCode::Backquote), Some('`'))
    );
    assert_eq!(press(TermKey::Left), (Some(KeyCode::ArrowLeft), None));
    assert_eq!(press(TermKey::F(5)), (Some(KeyCode::F5), None));
    assert_eq!(press(TermKey::F(13)), (None, None));
    // A character with no key of its own still types.
    assert_eq!(press(TermKey::Char('é')), (None, Some('é')));
}

fn args(line: &str) -> Vec<String> {
    line.split_whitespace().map(String::from).collect()
}

#[test]
fn the_command_line_keeps_demo_frames_and_swarm() {
    assert_eq!(
        options::parse(args("--demo --frames 120 --swarm 300")),
        Ok(Options {
            demo: true,
            frames: 120,
            swarm: Some(300),
            debug: None,
        })
    );
    assert_eq!(options::parse(args("")).map(|o| o.frames), Ok(DEMO_FRAMES));
    for (line, says) in [
        ("--frames", "--frames needs a number"),
        ("--swarm many", "--swarm many"),
        ("--fast", "unknown argument `--fast`"),
        ("--debugger", "unknown argument `--debugger`"),
        (
            "--debug=99999",
            "--debug=99999: the port is a number from 1 to 65535",
        ),
        (
            "--debug=abc",
            "--debug=abc: the port is a number from 1 to 65535",
        ),
    ] {
        let error = options::parse(args(line)).expect_err(line);
        assert!(error.contains(says), "{line}: {error}");
    }
}

#[test]
fn debug_takes_a_port_next_to_the_demo() {
    let parsed = options::parse(args("--demo --debug=5000"));
    if cfg!(feature = "debugger") {
        assert_eq!(parsed.map(|o| (o.demo, o.debug)), Ok((true, Some(5000))));
    } else {
        let error = parsed.expect_err("no debugger in this build");
        assert!(error.contains("--features debugger"), "{error}");
    }
}
