//! The arcade's command line: `arcade [--demo [--frames N]] [--swarm N] [--debug[=PORT]]`.

use crate::debug_flag;

/// The arguments the arcade takes.
pub const USAGE: &str = "usage: arcade [--demo [--frames N]] [--swarm N] [--debug[=PORT]]";

/// How many frames the demo plays: a minute of game time.
pub const DEMO_FRAMES: u32 = 3600;

/// The arcade's command line, read.
#[derive(Debug, PartialEq, Eq)]
pub struct Options {
    /// A scripted pilot plays, and the last frame and the score are printed.
    pub demo: bool,
    /// How many frames the demo plays; [`DEMO_FRAMES`] unless `--frames` says otherwise.
    pub frames: u32,
    /// How many more enemies the console command `swarm` adds once the scripts are up.
    pub swarm: Option<u32>,
    /// The script debugger's port, with `--debug` or `--debug=PORT`.
    pub debug: Option<u16>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            demo: false,
            frames: DEMO_FRAMES,
            swarm: None,
            debug: None,
        }
    }
}

/// Reads the arguments (without the program's name); an error says which one is wrong.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut options = Options::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if let Some(port) = debug_flag::parse(&arg) {
            options.debug = Some(port?);
            continue;
        }
        let mut number = |name: &str| -> Result<u32, String> {
            let value = args.next().ok_or(format!("{name} needs a number"))?;
            value.parse().map_err(|e| format!("{name} {value}: {e}"))
        };
        match arg.as_str() {
            "--demo" => options.demo = true,
            "--frames" => options.frames = number("--frames")?,
            "--swarm" => options.swarm = Some(number("--swarm")?),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(options)
}
