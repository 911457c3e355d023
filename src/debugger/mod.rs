//! The script debugger: a Debug Adapter Protocol server (feature `debugger`).
//!
//! Editors attach over TCP and set breakpoints by a script file's path on disk; the debugger
//! applies them to every VM that loaded the file (main, actor and worker VMs, and `require`d
//! modules), and again to each new version a hot reload brings.
//!
//! - **A stop** happens on the thread of the stopped script, inside Luau's break callback, with
//!   the frame intact: that thread blocks there and serves the client's requests (stack,
//!   scopes, variables, evaluate), forwarded by the protocol thread over a channel, until the
//!   client says to go on. The game waits meanwhile, as under any debugger. One script is
//!   stopped at a time; another that reaches a breakpoint waits for it.
//! - **Stepping** marks the lines a step may stop at with breakpoints (Luau's single-step
//!   flag only takes effect at the next call from the host), and the break callback stops
//!   at the first line that ends the step: the next line of the same frame or a caller
//!   (`next`), any line (`stepIn`), a line of a caller (`stepOut`). A step ends with the call
//!   from the host it began in.
//! - **Pause** sets an atomic flag: the VM's own thread sees it at the interrupt checkpoints
//!   that read the clock, and the main thread, between steps, marks every line so the next
//!   one stops.
//! - **Time stands still** while a script is stopped: the clock of the time limits, the frame
//!   budget and the profiler leave the stop out, and the debugger's own calls (conditions,
//!   logpoints, evaluate) run with limits of their own, not charged to the stopped call.
//! - **Errors**: with the "uncaught script errors" filter on, calls into scripts go through an
//!   error handler of the crate's own that stops while the failing frames are still on the
//!   stack; a coroutine (a `task`) that failed is stopped in after its resume, its stack kept.
//! - Scripts compile at debug level 2 with the feature, so locals and upvalues have names;
//!   optimization level 2 can still inline some locals away.
//! - Native code: a function with a breakpoint runs interpreted (Luau drops its native code).

pub(crate) mod hooks;
mod server;
pub(crate) mod session;
pub(crate) mod stop;
pub(crate) mod vm;
mod wire;

use bevy_app::{App, Plugin};
use bevy_ecs::resource::Resource;
use session::Session;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// A Debug Adapter Protocol server for the game's scripts: editors (VS Code, nvim-dap, Zed)
/// attach to it over TCP, set breakpoints in script files, step, read locals and `self`, and
/// evaluate expressions in the stopped frame.
///
/// ```no_run
/// # use bevy_app::App;
/// # use bevy_luau::{LuauScriptingPlugin, ScriptDebuggerPlugin};
/// App::new()
///     .add_plugins((LuauScriptingPlugin::default(), ScriptDebuggerPlugin::default()));
/// ```
///
/// When the port is taken, the game runs on without a debugger and says so in the log; the
/// [`ScriptDebugger`] resource tells where it listens.
#[derive(Debug, Clone)]
pub struct ScriptDebuggerPlugin {
    /// The TCP port to listen on. Default: 4711; `0` takes any free port.
    pub port: u16,
    /// The address to listen on. Default: the loopback address, `127.0.0.1`, so that only
    /// this machine can attach.
    pub address: IpAddr,
}

impl ScriptDebuggerPlugin {
    /// The port editors attach to by default.
    pub const DEFAULT_PORT: u16 = 4711;

    /// The plugin listening on `port` of the loopback address.
    pub fn on_port(port: u16) -> Self {
        Self {
            port,
            ..Self::default()
        }
    }
}

impl Default for ScriptDebuggerPlugin {
    fn default() -> Self {
        Self {
            port: Self::DEFAULT_PORT,
            address: IpAddr::V4(Ipv4Addr::LOCALHOST),
        }
    }
}

/// The running debugger server: where it listens and whether a client is attached.
#[derive(Resource, Debug, Clone)]
pub struct ScriptDebugger {
    session: Arc<Session>,
    address: SocketAddr,
}

impl ScriptDebugger {
    /// The address clients attach to.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Whether a client is attached now.
    pub fn attached(&self) -> bool {
        self.session.attached.load(Ordering::Acquire)
    }

    /// Whether a script is stopped now (at a breakpoint, a step or a pause).
    pub fn stopped(&self) -> bool {
        self.session.stopped.load(Ordering::Acquire) != 0
    }
}

impl Plugin for ScriptDebuggerPlugin {
    fn build(&self, app: &mut App) {
        let root = asset_root(app);
        let listener = match TcpListener::bind((self.address, self.port)) {
            Ok(listener) => listener,
            Err(error) => {
                tracing::error!(
                    target: "bevy_luau",
                    "debugger: could not listen on {}:{}: {error}; the game runs without it",
                    self.address,
                    self.port
                );
                return;
            }
        };
        let address = listener
            .local_addr()
            .unwrap_or(SocketAddr::new(self.address, self.port));
        let (session, events) = Session::new(root);
        server::spawn(listener, session.clone(), events);
        tracing::info!(target: "bevy_luau", "debugger: attach an editor to {address}");
        app.insert_resource(ScriptDebugger { session, address })
            .add_systems(bevy_app::Last, tell_the_client_the_game_ends);
    }

    fn finish(&self, app: &mut App) {
        // When the pool comes later, the first scripting step links it.
        let world = app.world();
        let (Some(debugger), Some(pool)) = (
            world.get_resource::<ScriptDebugger>(),
            world.get_resource::<crate::StatePool>(),
        ) else {
            return;
        };
        pool.link_debugger(&debugger.session);
    }
}

/// Sends `terminated` to an attached client when the app is told to exit.
fn tell_the_client_the_game_ends(
    mut exits: bevy_ecs::message::MessageReader<bevy_app::AppExit>,
    debugger: bevy_ecs::system::Res<ScriptDebugger>,
) {
    if exits.read().next().is_some() && debugger.attached() {
        let _ = debugger.session.events.send_timeout(
            session::Event::Terminated,
            std::time::Duration::from_secs(1),
        );
    }
}

/// Where the asset server reads files from: Bevy's base path joined with `AssetPlugin`'s
/// folder, as the file reader does.
fn asset_root(app: &App) -> PathBuf {
    let folder = app
        .get_added_plugins::<bevy_asset::AssetPlugin>()
        .first()
        .map_or_else(|| "assets".to_owned(), |plugin| plugin.file_path.clone());
    bevy_asset::io::file::FileAssetReader::get_base_path().join(folder)
}
