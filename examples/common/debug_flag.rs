//! `--debug` and `--debug=PORT`, the flag with which the example games (the MUD and the arcade)
//! turn on the script debugger. Each game's main file and its tests include this file.
//!
//! With the cargo feature `debugger`, the flag adds `ScriptDebuggerPlugin` on the port (the
//! plugin's default, 4711, for a bare `--debug`) and prints where an editor attaches. Without it,
//! the flag is a usage error that says which feature to turn on.

use bevy_app::App;

/// Reads `arg` as the debug flag: `None` when it is some other argument, otherwise the port to
/// listen on, or a usage error for a value that is not a port or a build without the debugger.
pub fn parse(arg: &str) -> Option<Result<u16, String>> {
    let value = match arg.strip_prefix("--debug")? {
        "" => None,
        rest => Some(rest.strip_prefix('=')?),
    };
    Some(port(value))
}

fn port(value: Option<&str>) -> Result<u16, String> {
    let port = match value {
        None => None,
        Some(text) => match text.parse::<u16>() {
            Ok(port) if port > 0 => Some(port),
            _ => {
                return Err(format!(
                    "--debug={text}: the port is a number from 1 to 65535"
                ));
            }
        },
    };
    #[cfg(feature = "debugger")]
    return Ok(port.unwrap_or(bevy_luau::ScriptDebuggerPlugin::DEFAULT_PORT));
    #[cfg(not(feature = "debugger"))]
    {
        let _ = port;
        Err(
            "--debug needs the script debugger, which this build leaves out: run with \
             `--features debugger` (`cargo run --features debugger --example NAME -- --debug`)"
                .into(),
        )
    }
}

/// Adds the script debugger on `port` and prints how to attach an editor to it.
#[cfg(feature = "debugger")]
pub fn add(app: &mut App, port: u16) {
    let plugin = bevy_luau::ScriptDebuggerPlugin::on_port(port);
    println!(
        "debugger: attach an editor to {}:{} (VS Code: editors/vscode, see README 'Debugging scripts')",
        plugin.address, plugin.port
    );
    app.add_plugins(plugin);
}

/// Without the feature `debugger` there is no debugger to add: [`parse`] refuses the flag, so
/// this is never called.
#[cfg(not(feature = "debugger"))]
pub fn add(_app: &mut App, _port: u16) {}
