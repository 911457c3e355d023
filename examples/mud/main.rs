//! A multiplayer text MUD whose whole game is Luau: rooms, items, NPCs that wander and fight,
//! combat, death and respawn all live in `assets/games/mud/scripts/`, loaded as a game
//! template. Rust only serves TCP connections and turns lines into Lua events.
//!
//! ```sh
//! cargo run --example mud            # then, in other terminals:
//! telnet 127.0.0.1 4000              # or: nc 127.0.0.1 4000
//! ```
//! Standard input is the admin console: `help`, `set mud_tick 0.5`, `announce Hello`,
//! `spawn wolf square`, `clients`, `shutdown`. Edit any script while players are connected and
//! the game changes under them without dropping a connection.
//!
//! The server's CVars: `sv_port`, `sv_max_clients`, and for connections that have not logged
//! in yet, `sv_max_pending` (how many may wait at once; 8) and `sv_login_timeout` (seconds
//! before they are disconnected; 60, 0 for never), so idle connections cannot keep players out.
//!
//! `cargo run --example mud -- 4001` listens on another port, and
//! `cargo run --example mud -- --demo` plays a short scripted session with two real TCP
//! clients, prints it, and exits.
//!
//! `cargo run --features debugger --example mud -- --debug` also serves the script debugger on
//! `127.0.0.1:4711` (`--debug=PORT` for another port): attach an editor to it, set breakpoints in
//! `assets/games/mud/scripts/`, and play (the README's "Debugging scripts" shows VS Code, nvim-dap
//! and Zed). Without the feature `debugger`, `--debug` is an error that says so.

#[path = "../common/debug_flag.rs"]
mod debug_flag;

mod api;
mod client;
mod components;
mod game;
mod net;
mod options;

use bevy_app::{AppExit, ScheduleRunnerPlugin, Update};
use bevy_ecs::prelude::*;
use bevy_log::LogPlugin;
use bevy_luau::prelude::*;
use client::Client;
use crossbeam_channel::Sender;
use game::{AdminConsole, MudServer};
use options::{Options, USAGE};
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

fn main() -> AppExit {
    let Options { port, demo, debug } = match options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(error) => {
            eprintln!("{USAGE}: {error}");
            return AppExit::error();
        }
    };
    let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    // The demo takes any free port, so it runs next to a server on 4000.
    let mut app = game::app(assets, if demo { Some(0) } else { port });
    if let Some(port) = debug {
        debug_flag::add(&mut app, port);
    }
    let console = admin_console(!demo);
    if demo {
        app.add_systems(Update, start_demo(console.commands.clone()));
    }
    app.add_plugins((
        ScheduleRunnerPlugin::run_loop(Duration::from_secs_f64(1.0 / 30.0)),
        LogPlugin::default(),
    ))
    .insert_resource(console.resource)
    .add_console_command(
        "shutdown",
        "shutdown [code]: stops the server (with exit code `code`, default 0)",
        |world, args| {
            let code = match args.first().map(|a| a.parse::<u8>()) {
                None => 0,
                Some(Ok(code)) => code,
                Some(Err(error)) => return Err(format!("shutdown [code]: {error}").into()),
            };
            world.write_message(match std::num::NonZeroU8::new(code) {
                None => AppExit::Success,
                Some(code) => AppExit::Error(code),
            });
            Ok("shutting down".into())
        },
    );
    app.run()
}

/// Once the server listens, plays the demo session on another thread.
fn start_demo(console: Sender<String>) -> impl FnMut(Option<Res<MudServer>>) {
    let mut started = false;
    move |server| {
        let Some(server) = server else { return };
        if std::mem::replace(&mut started, true) {
            return;
        }
        let (addr, console) = (server.addr, console.clone());
        std::thread::spawn(move || {
            let code = match demo(addr, &console) {
                Ok(()) => 0,
                Err(error) => {
                    eprintln!("the demo failed: {error}");
                    1
                }
            };
            let _ = console.send(format!("shutdown {code}"));
        });
    }
}

/// Two players meet, talk, and one of them fights the training dummy.
fn demo(addr: SocketAddr, console: &Sender<String>) -> Result<(), String> {
    let connect = |name| {
        let mut client = Client::connect(addr, name).map_err(|e| format!("{name}: {e}"))?;
        client.echo = true;
        Ok::<_, String>(client)
    };
    let mut alice = connect("alice")?;
    alice.expect("What is your name")?;
    alice.send("Alice")?;
    alice.expect("Exits:")?;
    let mut bob = connect("bob")?;
    bob.expect("What is your name")?;
    bob.send("Bob")?;
    bob.expect("Exits:")?;
    alice.expect("Bob has entered the world.")?;
    // Quicker rounds for the demo, through the admin console.
    let _ = console.send("set mud_tick 0.25".into());
    alice.expect("[admin]")?;
    bob.send("say Hello, Alice! The dummy in the yard needs beating.")?;
    alice.expect("Bob says")?;
    for (line, reply) in [
        ("south", "Exits:"),
        ("west", "Exits:"),
        ("take sword", "You take"),
        ("west", "Exits:"),
        ("attack dummy", "You have slain"),
        ("who", "Bob,"),
        ("quit", "Farewell!"),
    ] {
        alice.send(line)?;
        alice.expect(reply)?;
    }
    alice.expect_hangup()?;
    bob.expect("Alice has left the world.")?;
    bob.send("quit")?;
    bob.expect("Farewell!")?;
    println!(
        "demo finished: play it yourself with `cargo run --example mud` and `telnet 127.0.0.1 4000`"
    );
    Ok(())
}

/// The admin console, and a way to type into it from another thread.
struct Admin {
    resource: AdminConsole,
    commands: Sender<String>,
}

/// The admin console over standard output and (when `stdin` is set) standard input, each on
/// its own thread so the server never waits for the admin.
fn admin_console(stdin: bool) -> Admin {
    let (commands, input) = crossbeam_channel::unbounded();
    if stdin {
        let lines = commands.clone();
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
    }
    let (output, replies) = crossbeam_channel::unbounded::<String>();
    std::thread::spawn(move || {
        for reply in replies {
            if !reply.is_empty() {
                println!("{reply}");
            }
        }
    });
    Admin {
        resource: AdminConsole { input, output },
        commands,
    }
}
