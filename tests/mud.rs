//! The MUD example end to end: its app runs in-process on an ephemeral loopback port, and real
//! TCP clients play it.

#[path = "../examples/mud/api.rs"]
mod api;
#[path = "../examples/mud/client.rs"]
mod client;
#[path = "../examples/mud/components.rs"]
mod components;
#[path = "../examples/common/debug_flag.rs"]
#[allow(
    dead_code,
    reason = "adding the debugger is the game's part; the tests read the flag"
)]
mod debug_flag;
#[path = "../examples/mud/game.rs"]
mod game;
#[path = "../examples/mud/net.rs"]
mod net;
#[path = "../examples/mud/options.rs"]
mod options;

mod common;

use bevy_ecs::prelude::*;
use bevy_luau::prelude::*;
use bevy_time::TimeUpdateStrategy;
use client::{Client, PATIENCE};
use common::{edit, game_copy};
use components::Route;
use crossbeam_channel::{Receiver, Sender};
use game::{AdminConsole, MudServer};
use options::Options;
use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The MUD app, running frames on its own thread until dropped.
struct Server {
    port: u16,
    console: Sender<String>,
    replies: Receiver<String>,
    stop: Arc<AtomicBool>,
    routed: Arc<AtomicBool>,
    errors: Arc<Mutex<Vec<ScriptError>>>,
    /// The game's clock when the test moves it; `None` when it follows the wall clock.
    clock: Option<Arc<Clock>>,
    thread: Option<JoinHandle<()>>,
}

/// Game time that stands still until the test moves it with [`Server::advance`].
#[derive(Default)]
struct Clock {
    /// Nanoseconds of game time asked for so far.
    asked: AtomicU64,
    /// Nanoseconds of game time whose frames have run.
    run: AtomicU64,
}

/// The most game time one frame moves the clock by, as `Time<Virtual>` allows.
const STEP: Duration = Duration::from_millis(250);

impl Server {
    /// Starts the game over the asset folder `assets`; its clock follows the wall clock.
    fn start(assets: PathBuf) -> Self {
        Self::launch(assets, None)
    }

    /// Starts the game with its clock stopped, for [`Server::advance`] to move.
    fn start_paused(assets: PathBuf) -> Self {
        Self::launch(assets, Some(Arc::default()))
    }

    fn launch(assets: PathBuf, clock: Option<Arc<Clock>>) -> Self {
        Self::launch_with(assets, clock, |_| {})
    }

    /// Starts the game as [`Server::launch`] does, with `setup` applied to the app first.
    fn launch_with(
        assets: PathBuf,
        clock: Option<Arc<Clock>>,
        setup: impl FnOnce(&mut bevy_app::App) + Send + 'static,
    ) -> Self {
        let (console, input) = crossbeam_channel::unbounded();
        let (output, replies) = crossbeam_channel::unbounded();
        let (port_tx, port_rx) = crossbeam_channel::bounded(1);
        let stop = Arc::new(AtomicBool::new(false));
        let routed = Arc::new(AtomicBool::new(false));
        let errors = Arc::new(Mutex::new(Vec::new()));
        let (stopping, route_seen, reported) = (stop.clone(), routed.clone(), errors.clone());
        let time = clock.clone();
        let thread = std::thread::spawn(move || {
            let mut app = game::app(assets, Some(0));
            setup(&mut app);
            app.insert_resource(AdminConsole { input, output })
                .add_systems(bevy_app::Update, move |routes: Query<&Route>| {
                    if !routes.is_empty() {
                        route_seen.store(true, Ordering::SeqCst);
                    }
                });
            app.finish();
            app.cleanup();
            let mut port_tx = Some(port_tx);
            let mut run = 0;
            while !stopping.load(Ordering::SeqCst) {
                let step = time.as_ref().map(|clock| {
                    let owed = clock.asked.load(Ordering::SeqCst) - run;
                    let step = owed.min(STEP.as_nanos() as u64);
                    app.insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_nanos(
                        step,
                    )));
                    step
                });
                app.update();
                if let (Some(clock), Some(step)) = (&time, step) {
                    run += step;
                    clock.run.store(run, Ordering::SeqCst);
                }
                let new = app
                    .world_mut()
                    .resource_mut::<Messages<ScriptError>>()
                    .drain()
                    .collect::<Vec<_>>();
                if let Ok(mut errors) = reported.lock() {
                    errors.extend(new);
                }
                if let Some(server) = app.world().get_resource::<MudServer>()
                    && let Some(tx) = port_tx.take()
                {
                    let _ = tx.send(server.addr.port());
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        let port = port_rx
            .recv_timeout(PATIENCE)
            .expect("the server never started listening");
        Self {
            port,
            console,
            replies,
            stop,
            routed,
            errors,
            clock,
            thread: Some(thread),
        }
    }

    /// Moves the game's clock on by `time`, a step a frame, and returns once those frames have
    /// run.
    fn advance(&self, time: Duration) {
        let clock = self.clock.as_ref().expect("started with `start_paused`");
        let time = time.as_nanos() as u64;
        let target = clock.asked.fetch_add(time, Ordering::SeqCst) + time;
        let start = Instant::now();
        while clock.run.load(Ordering::SeqCst) < target {
            assert!(
                start.elapsed() < PATIENCE,
                "the server stopped running frames"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Runs an admin console line and returns its output.
    fn admin(&self, line: &str) -> String {
        self.console.send(line.to_owned()).expect("server running");
        self.replies
            .recv_timeout(PATIENCE)
            .expect("the console answered")
    }

    /// The script errors reported so far.
    fn errors(&self) -> Vec<ScriptError> {
        self.errors.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// Stops the app and returns every script error it reported.
    fn stop(mut self) -> Vec<ScriptError> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread
            .take()
            .expect("running")
            .join()
            .expect("the server thread panicked");
        self.errors()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Test shorthands over the example's client: every failure fails the test.
trait Play {
    fn login(server: &Server, name: &'static str) -> Self;
    fn say(&mut self, line: &str);
    fn sees(&mut self, needle: &str) -> String;
    fn retry(&mut self, line: &str, needle: &str) -> String;
}

impl Play for Client {
    /// Connects and logs in as `name`.
    fn login(server: &Server, name: &'static str) -> Self {
        let mut client = connect(server, name);
        client.sees("What is your name");
        client.say(name);
        // Names are capitalised.
        let mut shown = name.to_lowercase();
        shown[..1].make_ascii_uppercase();
        client.sees(&format!("Welcome, {shown}!"));
        client.sees("Exits: south");
        client
    }

    fn say(&mut self, line: &str) {
        self.send(line).unwrap_or_else(|e| panic!("{e}"));
    }

    fn sees(&mut self, needle: &str) -> String {
        self.expect(needle).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Sends `line` until a reply contains `needle`, for effects that take a few frames.
    fn retry(&mut self, line: &str, needle: &str) -> String {
        let start = Instant::now();
        loop {
            self.say(line);
            let reply = self.sees("\n");
            if reply.contains(needle) {
                return reply;
            }
            assert!(
                start.elapsed() < PATIENCE,
                "{}: `{line}` never answered {needle:?}; it received:\n{}",
                self.name,
                self.transcript
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn connect(server: &Server, name: &'static str) -> Client {
    Client::connect(([127, 0, 0, 1], server.port).into(), name).expect("connect")
}

/// Connects, and returns the client when the server lets it in (it is asked its name), or the
/// line that turned it away once the server has hung up.
fn knock(server: &Server, name: &'static str) -> Result<Client, String> {
    let mut client = connect(server, name);
    loop {
        let line = client.sees("\n");
        if line.contains("What is your name") {
            return Ok(client);
        }
        if line.contains("try again") {
            client.expect_hangup().unwrap_or_else(|e| panic!("{e}"));
            return Err(line);
        }
    }
}

/// Waits until the server counts `clients` connections, and returns what `clients` says.
fn wait_for_clients(server: &Server, clients: usize) -> String {
    let expected = format!("{clients} client(s) connected");
    let start = Instant::now();
    loop {
        let answer = server.admin("clients");
        if answer.starts_with(&expected) {
            return answer;
        }
        assert!(start.elapsed() < PATIENCE, "clients stayed: {answer}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn assets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets")
}

#[test]
fn two_players_explore_talk_fight_and_quit() {
    let server = Server::start(assets());
    let mut alice = Client::login(&server, "alice");
    let mut bob = Client::login(&server, "Bob");
    alice.sees("Bob has entered the world.");
    // Fast rounds, so the fight ends soon; players hear the change from the on_change handler.
    assert_eq!(server.admin("set mud_tick 0.1"), "mud_tick = 0.1");
    alice.sees("[admin] The world now turns every 0.1 seconds");
    assert_eq!(server.admin("set mud_respawn 0.5"), "mud_respawn = 0.5");

    alice.say("look");
    let look = alice.sees("Exits:");
    assert!(look.contains("Temple of the Moon"), "{look}");
    assert!(look.contains("Exits: south"), "{look}");

    bob.say("say hello there");
    bob.sees("You say, 'hello there'");
    alice.sees("Bob says, 'hello there'");

    alice.say("lok");
    alice.sees("I don't know how to 'lok'. Did you mean 'look'?");
    alice.say("xyzzy");
    alice.sees("A hollow voice says, 'Fool.'");

    alice.say("s");
    alice.sees("Village Square");
    bob.sees("Alice leaves south.");
    alice.say("west");
    alice.sees("Blacksmith's Forge");
    alice.say("take sword");
    alice.sees("You take the rusty sword.");
    alice.say("inventory");
    alice.sees("You carry: rusty sword.");
    alice.say("west");
    alice.sees("Training Yard");

    alice.say("attack dummy");
    alice.sees("You attack the training dummy!");
    alice.sees("You have slain the training dummy!");
    // It comes back once `mud_respawn` has passed.
    alice.sees("A training dummy appears.");
    alice.say("who");
    let who = alice.sees("Bob, Temple of the Moon");
    assert!(
        who.contains("Alice, Training Yard (1 kills, 0 deaths)"),
        "{who}"
    );

    alice.say("drop sword");
    alice.sees("You drop the rusty sword.");
    let players = server.admin("players");
    assert!(players.contains("Alice: 20/20 hp in yard"), "{players}");

    // A player who dies wakes up in the temple.
    assert_eq!(server.admin("spawn barkeep yard"), "spawned a barkeep");
    alice.sees("A barkeep appears in a puff of smoke.");
    let hurt = server.admin("lua ecs.set(ecs.find('Alice'), 'Health', {current = 1, max = 20})");
    assert!(!hurt.starts_with("error"), "{hurt}");
    alice.say("attack barkeep");
    alice.sees("You die!");
    alice.sees("...and you wake up in the temple, whole again.");
    alice.say("who");
    alice.sees("Alice, Temple of the Moon (1 kills, 1 deaths)");

    alice.say("quit");
    alice.sees("Farewell!");
    alice.expect_hangup().unwrap_or_else(|e| panic!("{e}"));
    bob.sees("Alice has left the world.");

    // The old hunter asked a worker for a route, and it was applied with a command.
    let start = Instant::now();
    while !server.routed.load(Ordering::SeqCst) {
        assert!(start.elapsed() < PATIENCE, "the hunter never got a route");
        std::thread::sleep(Duration::from_millis(20));
    }
    bob.say("who");
    bob.sees("Players online:");
    // The admin console has the built-in `scripts` command: every script of the game, by cost.
    let table = server.admin("scripts");
    assert!(table.starts_with("scripting step"), "{table}");
    for script in ["players.luau", "commands.luau", "combat.luau", "npcs.luau"] {
        assert!(
            table.contains(&format!("games/mud/scripts/{script}")),
            "{table}"
        );
    }
    assert!(table.contains("job find_path:"), "{table}");
    let errors = server.stop();
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn garbage_from_one_client_does_not_disturb_another() {
    let server = Server::start(assets());
    let mut alice = Client::login(&server, "Alice");

    let mut vandal = connect(&server, "vandal");
    vandal.sees("What is your name");
    // Binary noise, telnet commands and invalid UTF-8, then a line far over the limit.
    let noise: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 256) as u8).collect();
    vandal.stream.write_all(&noise).expect("send");
    vandal.stream.write_all(b"\r\n").expect("send");
    vandal
        .stream
        .write_all(&vec![b'a'; 64 * 1024])
        .expect("send");
    vandal.say("");
    vandal.sees("too long");
    // A burst far over the rate limit.
    for _ in 0..200 {
        vandal.say("look");
    }
    vandal.sees("typing too fast");
    vandal.stream.shutdown(Shutdown::Both).expect("hang up");

    // Clients that connect and vanish at once.
    for _ in 0..20 {
        let stream = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
        drop(stream);
    }

    alice.say("look");
    alice.sees("Temple of the Moon");
    alice.say("say still here");
    alice.sees("You say, 'still here'");
    // The server sees the vanished clients' hang-ups on its own reader threads; on a
    // busy machine the last few may still be closing, so wait for them to go.
    wait_for_clients(&server, 1);
    let errors = server.stop();
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn a_full_server_turns_new_clients_away() {
    let server = Server::start(assets());
    let mut alice = Client::login(&server, "Alice");
    assert_eq!(server.admin("set sv_max_clients 1"), "sv_max_clients = 1");
    // The limit reaches the listener a frame later; until then a newcomer still gets in.
    let start = Instant::now();
    loop {
        let mut newcomer = connect(&server, "newcomer");
        let first = newcomer.sees("\n");
        if first.contains("The server is full") {
            break;
        }
        assert!(first.contains("Welcome"), "{first}");
        assert!(start.elapsed() < PATIENCE, "the limit never applied");
        std::thread::sleep(Duration::from_millis(20));
    }
    alice.say("look");
    alice.sees("Exits: south");
    assert!(server.stop().is_empty());
}

#[test]
fn editing_scripts_changes_the_game_without_dropping_players() {
    let dir = game_copy("mud");
    let server = Server::start(dir.path().to_path_buf());
    let mut alice = Client::login(&server, "Alice");
    alice.say("dance");
    alice.sees("I don't know how to 'dance'");

    // A new command, through an on_action handler in an edited script.
    let ambience = dir.path().join("games/mud/scripts/ambience.luau");
    edit(
        &ambience,
        "elseif line == \"xyzzy\" then",
        "elseif line == \"dance\" then\n        mud.tell(e, \"You dance a jig.\")\n        return true\n    elseif line == \"xyzzy\" then",
    );
    alice.retry("dance", "You dance a jig.");

    // A room description, changed under a player standing in it.
    edit(
        &dir.path().join("games/mud/scripts/world.luau"),
        "Cool marble",
        "Freshly painted marble",
    );
    alice.retry("look", "Freshly painted marble");

    // A script that no longer compiles keeps the old version running.
    std::fs::write(&ambience, "events.on(\"on_action\", function(p)").expect("write");
    let start = Instant::now();
    while !server
        .errors()
        .iter()
        .any(|e| e.kind == ScriptErrorKind::Compile && e.script.ends_with("ambience.luau"))
    {
        assert!(
            start.elapsed() < PATIENCE,
            "no compile error: {:?}",
            server.errors()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    alice.say("dance");
    alice.sees("You dance a jig.");
    alice.say("inventory");
    alice.sees("Health: 20/20.");
    assert_eq!(server.stop().len(), 1);
}

#[test]
fn a_failing_script_handler_tells_the_client_and_keeps_serving() {
    let dir = game_copy("mud");
    edit(
        &dir.path().join("games/mud/scripts/players.luau"),
        "    mud.tell(p.entity, cvar.get(\"mud_motd\"))",
        "    error(\"the greeting broke\")",
    );
    let server = Server::start(dir.path().to_path_buf());
    let mut alice = connect(&server, "alice");
    alice.sees("Something went wrong there");
    // The line handlers still work: the name is taken and the player logs in.
    alice.say("Alice");
    alice.sees("Welcome, Alice!");
    let errors = server.stop();
    assert_eq!(errors.len(), 1, "one error, not one per frame: {errors:?}");
    assert!(
        errors[0].message.contains("the greeting broke"),
        "{errors:?}"
    );
}

#[test]
fn a_client_that_does_not_log_in_in_time_is_told_and_disconnected() {
    let server = Server::start_paused(assets());
    let mut alice = Client::login(&server, "Alice");
    let mut silent = connect(&server, "silent");
    silent.sees("What is your name");
    let mut dawdler = connect(&server, "dawdler");
    dawdler.sees("What is your name");

    // A second short of the timeout, both are still there; a bad name does not log in.
    server.advance(Duration::from_secs(59));
    dawdler.say("R2D2");
    dawdler.sees("A name is letters only");

    server.advance(Duration::from_secs(2));
    for client in [&mut silent, &mut dawdler] {
        client.sees("You did not log in within 60 seconds; goodbye.");
        client.expect_hangup().unwrap_or_else(|e| panic!("{e}"));
    }
    wait_for_clients(&server, 1);
    // Alice logged in, so she stays however long she plays.
    server.advance(Duration::from_secs(120));
    alice.say("look");
    alice.sees("Exits: south");

    // 0 turns the timeout off.
    assert_eq!(
        server.admin("set sv_login_timeout 0"),
        "sv_login_timeout = 0"
    );
    let mut patient = connect(&server, "patient");
    patient.sees("What is your name");
    server.advance(Duration::from_secs(600));
    patient.say("Patience");
    patient.sees("Welcome, Patience!");
    let errors = server.stop();
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn idle_connections_cannot_keep_players_out() {
    let server = Server::start_paused(assets());
    let mut alice = Client::login(&server, "Alice");

    // 200 connections that never log in: `sv_max_pending` (8) wait to be asked their name, and
    // the rest are told to come back later.
    let (mut idle, mut refusals) = (Vec::new(), Vec::new());
    for _ in 0..200 {
        match knock(&server, "idle") {
            Ok(client) => idle.push(client),
            Err(refusal) => refusals.push(refusal),
        }
    }
    assert_eq!(idle.len(), 8, "idle connections took {} seats", idle.len());
    for refusal in &refusals {
        assert!(
            refusal.contains("Too many people are logging in"),
            "{refusal}"
        );
    }
    let clients = wait_for_clients(&server, 9);
    assert!(clients.ends_with("8 still logging in"), "{clients}");

    // Players already in play on, and a newcomer is turned away with the reason.
    alice.say("look");
    alice.sees("Exits: south");
    let refusal = knock(&server, "bob")
        .err()
        .expect("bob is turned away for now");
    assert!(
        refusal.contains("Too many people are logging in"),
        "{refusal}"
    );

    // Once the idle connections time out, a real player gets in.
    server.advance(Duration::from_secs(61));
    for client in &mut idle {
        client.sees("You did not log in within 60 seconds");
        client.expect_hangup().unwrap_or_else(|e| panic!("{e}"));
    }
    wait_for_clients(&server, 1);
    let mut bob = Client::login(&server, "Bob");
    alice.sees("Bob has entered the world.");
    bob.say("who");
    bob.sees("Alice, Temple of the Moon");
    let errors = server.stop();
    assert!(errors.is_empty(), "{errors:?}");
}

/// The debugger's done-when: a player types a command over telnet, and the script stops at a
/// breakpoint in `scripts/commands.luau`, with the command's text in its locals.
#[cfg(feature = "debugger")]
#[test]
fn a_debugger_stops_in_commands_luau_when_a_player_types_the_command() {
    use bevy_luau::{ScriptDebugger, ScriptDebuggerPlugin};
    use common::dap::{Dap, value_of};
    use serde_json::json;

    let dir = game_copy("mud");
    let (address_tx, address_rx) = crossbeam_channel::bounded(1);
    let server = Server::launch_with(dir.path().to_path_buf(), None, move |app| {
        app.add_plugins(ScriptDebuggerPlugin::on_port(0));
        let address = app.world().resource::<ScriptDebugger>().address();
        address_tx.send(address).unwrap();
    });
    let address = address_rx.recv_timeout(PATIENCE).unwrap();
    let commands = dir.path().join("games/mud/scripts/commands.luau");
    let line = std::fs::read_to_string(&commands)
        .unwrap()
        .lines()
        .position(|l| l.contains("mud.tell(e, `You say, '{rest}'`)"))
        .expect("the say command")
        + 1;

    let mut dap = Dap::connect(address);
    dap.attach(&commands.to_string_lossy(), json!([{ "line": line }]));
    let mut player = Client::login(&server, "ada");
    player.say("say hello there");
    let stopped = dap.stopped();
    assert_eq!(stopped["reason"], "breakpoint");
    let frame = dap.top_frame(&stopped["threadId"]);
    assert_eq!(frame["line"], line);
    let path = frame["source"]["path"].as_str().unwrap();
    assert!(path.ends_with("games/mud/scripts/commands.luau"), "{path}");
    let locals = dap.scope(&frame["id"], "Locals");
    assert_eq!(value_of(&locals, "rest"), "\"hello there\"");
    dap.ok("continue", json!({ "threadId": stopped["threadId"] }));
    // The game goes on: the player hears their own words.
    player.sees("You say, 'hello there'");
    dap.ok("disconnect", json!({}));
    assert!(server.stop().is_empty());
}

fn args(line: &str) -> Vec<String> {
    line.split_whitespace().map(String::from).collect()
}

#[test]
fn the_command_line_takes_a_port_and_demo_in_any_order() {
    let options = options::parse(args("--demo 4001")).expect("valid arguments");
    assert_eq!(
        options,
        Options {
            port: Some(4001),
            demo: true,
            debug: None,
        }
    );
    assert_eq!(options::parse(args("")), Ok(Options::default()));
    let error = options::parse(args("4001 --verbose")).expect_err("an unknown flag");
    assert!(error.contains("`--verbose`"), "{error}");
}

#[cfg(feature = "debugger")]
#[test]
fn debug_takes_the_debugger_default_port_or_the_one_given() {
    use bevy_luau::ScriptDebuggerPlugin;
    assert_eq!(
        options::parse(args("--debug")).map(|o| o.debug),
        Ok(Some(ScriptDebuggerPlugin::DEFAULT_PORT))
    );
    assert_eq!(ScriptDebuggerPlugin::DEFAULT_PORT, 4711);
    assert_eq!(
        options::parse(args("4001 --debug=5000 --demo")),
        Ok(Options {
            port: Some(4001),
            demo: true,
            debug: Some(5000),
        })
    );
}

#[cfg(not(feature = "debugger"))]
#[test]
fn debug_without_the_feature_says_which_feature_to_turn_on() {
    for line in ["--debug", "--debug=5000", "4001 --debug"] {
        let error = options::parse(args(line)).expect_err(line);
        assert!(error.contains("--features debugger"), "{line}: {error}");
    }
}

#[test]
fn a_debug_port_that_is_not_a_port_is_a_usage_error() {
    for value in ["abc", "99999", "0", "", "-1", "4711x"] {
        let arg = format!("--debug={value}");
        let error = options::parse([arg.clone()]).expect_err(&arg);
        assert!(error.contains("1 to 65535"), "{arg}: {error}");
        assert!(error.contains(&arg), "{arg}: {error}");
    }
    // A longer flag is not `--debug`: it is an unknown argument.
    let error = options::parse(args("--debugger")).expect_err("--debugger");
    assert!(error.contains("`--debugger`"), "{error}");
    assert!(options::USAGE.contains("[--debug[=PORT]]"));
}
