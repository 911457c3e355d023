//! The MUD example end to end: its app runs in-process on an ephemeral loopback port, and real
//! TCP clients play it.

#[path = "../examples/mud/game.rs"]
mod game;
#[path = "../examples/mud/net.rs"]
mod net;

use bevy_ecs::prelude::*;
use bevy_luau::prelude::*;
use crossbeam_channel::{Receiver, Sender};
use game::{AdminConsole, MudServer, Route};
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long any one expectation may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(20);

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

/// A telnet-style client.
struct Client {
    name: &'static str,
    stream: TcpStream,
    reader: BufReader<TcpStream>,
    transcript: String,
}

impl Client {
    fn connect(server: &Server, name: &'static str) -> Self {
        let stream = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        let reader = BufReader::new(stream.try_clone().expect("clone"));
        Self {
            name,
            stream,
            reader,
            transcript: String::new(),
        }
    }

    /// Connects and logs in as `name`.
    fn login(server: &Server, name: &'static str) -> Self {
        let mut client = Self::connect(server, name);
        client.expect("What is your name");
        client.send(name);
        // Names are capitalised.
        let mut shown = name.to_lowercase();
        shown[..1].make_ascii_uppercase();
        client.expect(&format!("Welcome, {shown}!"));
        client.expect("Temple of the Moon");
        client
    }

    fn send(&mut self, line: &str) {
        self.stream
            .write_all(format!("{line}\r\n").as_bytes())
            .expect("send");
    }

    /// Reads until a line contains `needle`; returns the lines read, that one included.
    fn expect(&mut self, needle: &str) -> String {
        let start = Instant::now();
        let mut read = String::new();
        loop {
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) => panic!(
                    "{}: the server hung up while waiting for {needle:?}\n{}",
                    self.name, self.transcript
                ),
                Ok(_) => {
                    self.transcript.push_str(&line);
                    read.push_str(&line);
                    if line.contains(needle) {
                        return read;
                    }
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    // A partial line stays in `line`; keep it for the next read.
                    self.transcript.push_str(&line);
                    read.push_str(&line);
                }
                Err(e) => panic!("{}: read failed: {e}", self.name),
            }
            assert!(
                start.elapsed() < PATIENCE,
                "{}: no {needle:?} in time; transcript:\n{}",
                self.name,
                self.transcript
            );
        }
    }

    /// Sends `line` until a reply contains `needle`, for effects that take a few frames.
    fn retry(&mut self, line: &str, needle: &str) -> String {
        let start = Instant::now();
        loop {
            self.send(line);
            let reply = self.expect("\n");
            if reply.contains(needle) {
                return reply;
            }
            assert!(
                start.elapsed() < PATIENCE,
                "{}: `{line}` never answered {needle:?}; transcript:\n{}",
                self.name,
                self.transcript
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits for the server to close the connection.
    fn expect_hangup(&mut self) {
        let start = Instant::now();
        loop {
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) => return,
                Ok(_) => self.transcript.push_str(&line),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => return,
            }
            assert!(start.elapsed() < PATIENCE, "{}: still connected", self.name);
        }
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
    alice.expect("Bob has entered the world.");
    // Fast rounds, so the fight ends soon; players hear the change from the on_change handler.
    assert_eq!(server.admin("set mud_tick 0.1"), "mud_tick = 0.1");
    alice.expect("[admin] The world now turns every 0.1 seconds");
    assert_eq!(server.admin("set mud_respawn 0.5"), "mud_respawn = 0.5");

    alice.send("look");
    let look = alice.expect("Exits:");
    assert!(look.contains("Temple of the Moon"), "{look}");
    assert!(look.contains("Exits: south"), "{look}");

    bob.send("say hello there");
    bob.expect("You say, 'hello there'");
    alice.expect("Bob says, 'hello there'");

    alice.send("lok");
    alice.expect("I don't know how to 'lok'. Did you mean 'look'?");
    alice.send("xyzzy");
    alice.expect("A hollow voice says, 'Fool.'");

    alice.send("s");
    alice.expect("Village Square");
    bob.expect("Alice leaves south.");
    alice.send("west");
    alice.expect("Blacksmith's Forge");
    alice.send("take sword");
    alice.expect("You take the rusty sword.");
    alice.send("inventory");
    alice.expect("You carry: rusty sword.");
    alice.send("west");
    alice.expect("Training Yard");

    alice.send("attack dummy");
    alice.expect("You attack the training dummy!");
    alice.expect("You have slain the training dummy!");
    // It comes back once `mud_respawn` has passed.
    alice.expect("A training dummy appears.");
    alice.send("who");
    let who = alice.expect("Bob, Temple of the Moon");
    assert!(
        who.contains("Alice, Training Yard (1 kills, 0 deaths)"),
        "{who}"
    );

    alice.send("drop sword");
    alice.expect("You drop the rusty sword.");
    let players = server.admin("players");
    assert!(players.contains("Alice: 20/20 hp in yard"), "{players}");

    // A player who dies wakes up in the temple.
    assert_eq!(server.admin("spawn barkeep yard"), "spawned a barkeep");
    alice.expect("A barkeep appears in a puff of smoke.");
    let hurt = server.admin("lua ecs.set(ecs.find('Alice'), 'Health', {current = 1, max = 20})");
    assert!(!hurt.starts_with("error"), "{hurt}");
    alice.send("attack barkeep");
    alice.expect("You die!");
    alice.expect("...and you wake up in the temple, whole again.");
    alice.send("who");
    alice.expect("Alice, Temple of the Moon (1 kills, 1 deaths)");

    alice.send("quit");
    alice.expect("Farewell!");
    alice.expect_hangup();
    bob.expect("Alice has left the world.");

    // The old hunter asked a worker for a route, and it was applied with a command.
    let start = Instant::now();
    while !server.routed.load(Ordering::SeqCst) {
        assert!(start.elapsed() < PATIENCE, "the hunter never got a route");
        std::thread::sleep(Duration::from_millis(20));
    }
    bob.send("who");
    bob.expect("Players online:");
    let errors = server.stop();
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn garbage_from_one_client_does_not_disturb_another() {
    let server = Server::start(assets());
    let mut alice = Client::login(&server, "Alice");

    let mut vandal = Client::connect(&server, "vandal");
    vandal.expect("What is your name");
    // Binary noise, telnet commands and invalid UTF-8, then a line far over the limit.
    let noise: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 256) as u8).collect();
    vandal.stream.write_all(&noise).expect("send");
    vandal.stream.write_all(b"\r\n").expect("send");
    vandal
        .stream
        .write_all(&vec![b'a'; 64 * 1024])
        .expect("send");
    vandal.send("");
    vandal.expect("too long");
    // A burst far over the rate limit.
    for _ in 0..200 {
        vandal.send("look");
    }
    vandal.expect("typing too fast");
    vandal.stream.shutdown(Shutdown::Both).expect("hang up");

    // Clients that connect and vanish at once.
    for _ in 0..20 {
        let stream = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
        drop(stream);
    }

    alice.send("look");
    alice.expect("Temple of the Moon");
    alice.send("say still here");
    alice.expect("You say, 'still here'");
    let clients = server.admin("clients");
    assert!(clients.starts_with("1 client(s)"), "{clients}");
    let errors = server.stop();
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn editing_scripts_changes_the_game_without_dropping_players() {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&assets().join("games/mud"), &dir.path().join("games/mud"));
    let server = Server::start(dir.path().to_path_buf());
    let mut alice = Client::login(&server, "Alice");
    alice.send("dance");
    alice.expect("I don't know how to 'dance'");

    // A new command, through an on_action handler in an edited script.
    let ambience = dir.path().join("games/mud/scripts/ambience.luau");
    let source = std::fs::read_to_string(&ambience).expect("read");
    let edited = source.replace(
        "elseif line == \"xyzzy\" then",
        "elseif line == \"dance\" then\n        mud.tell(e, \"You dance a jig.\")\n        return true\n    elseif line == \"xyzzy\" then",
    );
    assert_ne!(source, edited);
    std::fs::write(&ambience, edited).expect("write");
    alice.retry("dance", "You dance a jig.");

    // A room description, changed under a player standing in it.
    let world = dir.path().join("games/mud/scripts/world.luau");
    let source = std::fs::read_to_string(&world).expect("read");
    std::fs::write(
        &world,
        source.replace("Cool marble", "Freshly painted marble"),
    )
    .expect("write");
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
    alice.send("dance");
    alice.expect("You dance a jig.");
    alice.send("inventory");
    alice.expect("Health: 20/20.");
    assert_eq!(server.stop().len(), 1);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(entry.file_name()));
        } else {
            std::fs::copy(&path, to.join(entry.file_name())).expect("copy");
        }
    }
}
