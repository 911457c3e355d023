//! The MUD example end to end: its app runs in-process on an ephemeral loopback port, and real
//! TCP clients play it.

#[path = "../examples/mud/api.rs"]
mod api;
#[path = "../examples/mud/client.rs"]
mod client;
#[path = "../examples/mud/components.rs"]
mod components;
#[path = "../examples/mud/game.rs"]
mod game;
#[path = "../examples/mud/net.rs"]
mod net;

mod common;

use bevy_ecs::prelude::*;
use bevy_luau::prelude::*;
use client::{Client, PATIENCE};
use common::{edit, game_copy};
use components::Route;
use crossbeam_channel::{Receiver, Sender};
use game::{AdminConsole, MudServer};
use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
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
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Starts the game over the asset folder `assets`.
    fn start(assets: PathBuf) -> Self {
        let (console, input) = crossbeam_channel::unbounded();
        let (output, replies) = crossbeam_channel::unbounded();
        let (port_tx, port_rx) = crossbeam_channel::bounded(1);
        let stop = Arc::new(AtomicBool::new(false));
        let routed = Arc::new(AtomicBool::new(false));
        let errors = Arc::new(Mutex::new(Vec::new()));
        let (stopping, route_seen, reported) = (stop.clone(), routed.clone(), errors.clone());
        let thread = std::thread::spawn(move || {
            let mut app = game::app(assets, Some(0));
            app.insert_resource(AdminConsole { input, output })
                .add_systems(bevy_app::Update, move |routes: Query<&Route>| {
                    if !routes.is_empty() {
                        route_seen.store(true, Ordering::SeqCst);
                    }
                });
            app.finish();
            app.cleanup();
            let mut port_tx = Some(port_tx);
            while !stopping.load(Ordering::SeqCst) {
                app.update();
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
            thread: Some(thread),
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
    let start = Instant::now();
    loop {
        let clients = server.admin("clients");
        if clients.starts_with("1 client(s)") {
            break;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "vanished clients stayed: {clients}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
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
