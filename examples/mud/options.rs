//! The MUD's command line: `mud [port] [--demo] [--debug[=PORT]]`.

use crate::debug_flag;

/// The arguments the MUD takes.
pub const USAGE: &str = "usage: mud [port] [--demo] [--debug[=PORT]]";

/// The MUD's command line, read.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// The port players connect to; `None` for the `sv_port` CVar (4000 by default).
    pub port: Option<u16>,
    /// Plays a scripted session with two clients, on any free port, and exits.
    pub demo: bool,
    /// The script debugger's port, with `--debug` or `--debug=PORT`.
    pub debug: Option<u16>,
}

/// Reads the arguments (without the program's name); an error says which one is wrong.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut options = Options::default();
    for arg in args {
        if let Some(port) = debug_flag::parse(&arg) {
            options.debug = Some(port?);
            continue;
        }
        match (arg.as_str(), arg.parse::<u16>()) {
            ("--demo", _) => options.demo = true,
            (_, Ok(number)) => options.port = Some(number),
            (_, Err(error)) => return Err(format!("`{arg}`: {error}")),
        }
    }
    Ok(options)
}
