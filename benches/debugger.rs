//! The debugger's cost with a client attached: one scripting step of 10,000 entity scripts
//! (`assets/scripts/bench/mover.luau`, as in `hooks.rs`) with a Debug Adapter Protocol client
//! attached over TCP and breakpoints set away from the hot code (in `on_spawn`, which no
//! longer runs, and in a file the app did not load), against the same app with the debugger
//! and no client, in the same run. Target: at most 1.05× (within 5%).
//!
//! The cost of compiling the feature in at all (no client) is measured across two builds:
//! `perf_report`'s rows with and without `--features debugger`.

#[path = "hooks.rs"]
#[expect(
    dead_code,
    reason = "the benchmark uses the helpers of hooks.rs, not its entry point"
)]
mod hooks;

use bevy_app::App;
use bevy_asset::AssetServer;
use bevy_luau::prelude::*;
use bevy_luau::{ScriptDebugger, ScriptDebuggerPlugin};
use criterion::Criterion;
use std::io::{Read, Write};
use std::net::TcpStream;

/// The two apps and the attached client's connection.
pub(crate) struct Debugged {
    detached: App,
    attached: App,
    _client: TcpStream,
}

/// An app with the debugger on a free port and `hooks::CALLS` entities running mover.luau.
fn app() -> App {
    let mut app = hooks::app(Some(LuauScriptingPlugin::default()), |app| {
        app.add_plugins(ScriptDebuggerPlugin::on_port(0));
        let world = app.world_mut();
        let mover = world
            .resource::<AssetServer>()
            .load("scripts/bench/mover.luau");
        world.spawn_batch((0..hooks::CALLS).map(move |_| Script::new(mover.clone())));
    });
    hooks::wait_for(&mut app, "spawned", hooks::CALLS);
    app
}

/// Sends one request, as an editor does.
fn send(stream: &mut TcpStream, seq: u32, command: &str, arguments: &str) {
    let body = format!(
        r#"{{"seq":{seq},"type":"request","command":"{command}","arguments":{arguments}}}"#
    );
    let message = format!("Content-Length: {}\r\n\r\n{body}", body.len());
    stream
        .write_all(message.as_bytes())
        .expect("send a request");
}

impl Debugged {
    /// Builds both apps, attaches a client to one and sets its breakpoints.
    pub(crate) fn new() -> Self {
        let detached = app();
        let mut attached = app();
        let address = attached.world().resource::<ScriptDebugger>().address();
        let mut client = TcpStream::connect(address).expect("attach");
        // Whatever the server sends is read and dropped, so it never waits on the client.
        let mut reader = client.try_clone().expect("a second handle");
        std::thread::spawn(move || {
            let mut buffer = [0; 4096];
            while matches!(reader.read(&mut buffer), Ok(n) if n > 0) {}
        });
        let mover = format!("{}/scripts/bench/mover.luau", hooks::assets());
        let other = format!("{}/scripts/bench/hooks.luau", hooks::assets());
        send(&mut client, 1, "initialize", r#"{"adapterID":"bevy-luau"}"#);
        send(&mut client, 2, "attach", "{}");
        let breakpoints = |path: &str, line: u32| {
            format!(r#"{{"source":{{"path":"{path}"}},"breakpoints":[{{"line":{line}}}]}}"#)
        };
        send(&mut client, 3, "setBreakpoints", &breakpoints(&mover, 9));
        send(&mut client, 4, "setBreakpoints", &breakpoints(&other, 8));
        send(&mut client, 5, "configurationDone", "{}");
        // The breakpoints reach the VM at the next step.
        while !attached.world().resource::<ScriptDebugger>().attached() {
            attached.update();
        }
        for _ in 0..10 {
            attached.update();
        }
        Self {
            detached,
            attached,
            _client: client,
        }
    }

    /// The attached app's step time over the detached one's, the median of `runs`.
    pub(crate) fn ratio(&mut self, runs: usize, frames: u32) -> f64 {
        let [attached, detached] = hooks::medians(runs, |k| match k {
            0 => hooks::time(frames, || self.attached.update()),
            _ => hooks::time(frames, || self.detached.update()),
        });
        attached / detached
    }
}

fn debugger(criterion: &mut Criterion) {
    let mut debugged = Debugged::new();
    let mut group = criterion.benchmark_group("debugger");
    group.bench_function("attached", |b| b.iter(|| debugged.attached.update()));
    group.bench_function("detached", |b| b.iter(|| debugged.detached.update()));
    group.finish();
    if hooks::measuring() {
        let ratio = debugged.ratio(11, 10);
        let verdict = if ratio <= 1.05 { "PASS" } else { "MISS" };
        println!("debugger_attached {ratio:.3} <=1.05 {verdict}");
    }
}

/// What `criterion_group!` and `criterion_main!` expand to (see hooks.rs).
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    debugger(&mut criterion);
    criterion.final_summary();
}
