//! What the protocol thread and the VMs share: breakpoints by file, the switches a client
//! sets, and the channels of a stop.

use crossbeam_channel::{Receiver, Sender};
use serde_json::Value as Json;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// A line breakpoint as the client set it.
#[derive(Debug)]
pub(crate) struct LineBreakpoint {
    /// Its id in the protocol.
    pub id: i64,
    /// The line asked for (1-based).
    pub line: u32,
    /// Stops only when this expression is truthy in the stopped frame.
    pub condition: Option<String>,
    /// Stops only on the hits this says (`3`, `>= 3`, `% 2`).
    pub hit_condition: Option<String>,
    /// A logpoint: writes this, with `{expressions}` filled in, and does not stop.
    pub log_message: Option<String>,
    /// How many times its line was reached.
    pub hits: AtomicU64,
}

/// What a VM thread tells the protocol thread.
#[derive(Debug)]
pub(crate) enum Event {
    /// A script stopped on the VM of `thread`.
    Stopped {
        thread: i64,
        name: String,
        reason: &'static str,
        text: Option<String>,
    },
    /// Text for the client's console (`print`, `log.*`, logpoints).
    Output {
        category: &'static str,
        text: String,
    },
    /// The game is exiting.
    Terminated,
}

/// How a stopped script goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resume {
    Continue,
    /// To the next line of the same frame or a caller.
    Next,
    /// To the next line that runs, in any function.
    StepIn,
    /// To the next line of a caller.
    StepOut,
}

/// The answer to a request the stopped VM serves: a response body, or an error message.
pub(crate) type Reply = Sender<Result<Json, String>>;

/// A request the protocol thread forwards to the stopped VM.
#[derive(Debug)]
pub(crate) enum Command {
    /// Frames from the first of the pair, at most the second of them.
    StackTrace((usize, usize), Reply),
    Scopes(i64, Reply),
    Variables(i64, Reply),
    Evaluate {
        frame: Option<i64>,
        expression: String,
        reply: Reply,
    },
    SetVariable {
        reference: i64,
        name: String,
        value: String,
        reply: Reply,
    },
    Resume(Resume),
}

/// The debugger's state shared by the protocol thread and every VM.
#[derive(Debug)]
pub(crate) struct Session {
    /// Line breakpoints by the file's path on disk, as the client sent it.
    breakpoints: Mutex<HashMap<String, Vec<Arc<LineBreakpoint>>>>,
    /// Bumped by every change of the breakpoints, so VMs know to apply them again.
    generation: AtomicU64,
    /// Whether a client is attached.
    pub attached: AtomicBool,
    /// Whether scripts stop at their errors (the exception filter).
    pub errors: AtomicBool,
    /// Whether a pause was asked for and no script has stopped for it yet.
    pub pause: AtomicBool,
    /// To the protocol thread.
    pub events: Sender<Event>,
    /// Output events that did not fit the channel, told to the client later.
    pub dropped_output: AtomicU64,
    /// To the stopped VM.
    pub commands: (Sender<Command>, Receiver<Command>),
    /// Held for the length of a stop: one script is stopped at a time, and a second waits.
    gate: Mutex<()>,
    /// The thread id of the stopped VM, `0` when none is.
    pub stopped: AtomicI64,
    /// Where asset paths are on disk.
    root: PathBuf,
    /// Asset paths of the script files loaded in some VM.
    sources: Mutex<BTreeSet<String>>,
    next_id: AtomicI64,
    /// Each breakpoint's line as applied, by id, for the client.
    pub verified: Mutex<HashMap<i64, u32>>,
}

/// How many output events wait for the protocol thread before more are counted, not sent.
const OUTPUT_ROOM: usize = 4096;

impl Session {
    /// A session for scripts whose asset root is `root`, and the receiving end of its events.
    pub(crate) fn new(root: PathBuf) -> (Arc<Self>, Receiver<Event>) {
        let (events, received) = crossbeam_channel::bounded(OUTPUT_ROOM);
        let session = Self {
            breakpoints: Mutex::default(),
            generation: AtomicU64::new(1),
            attached: AtomicBool::new(false),
            errors: AtomicBool::new(false),
            pause: AtomicBool::new(false),
            events,
            dropped_output: AtomicU64::new(0),
            commands: crossbeam_channel::unbounded(),
            gate: Mutex::new(()),
            stopped: AtomicI64::new(0),
            root,
            sources: Mutex::default(),
            next_id: AtomicI64::new(1),
            verified: Mutex::default(),
        };
        (Arc::new(session), received)
    }

    /// A fresh id for a breakpoint or a VM thread.
    pub(crate) fn next_id(&self) -> i64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The breakpoints' generation: it changes whenever they do.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Replaces the breakpoints of the file at `path` on disk.
    pub(crate) fn set_breakpoints(&self, path: String, lines: Vec<Arc<LineBreakpoint>>) {
        let mut breakpoints = lock(&self.breakpoints);
        if lines.is_empty() {
            breakpoints.remove(&path);
        } else {
            breakpoints.insert(path, lines);
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Forgets every breakpoint and switch, when the client goes.
    pub(crate) fn clear(&self) {
        lock(&self.breakpoints).clear();
        lock(&self.verified).clear();
        self.generation.fetch_add(1, Ordering::AcqRel);
        if self.errors.swap(false, Ordering::AcqRel) {
            crate::ffi::debug::want_errors(false);
        }
        if self.pause.swap(false, Ordering::AcqRel) {
            crate::ffi::debug::want_pause(false);
        }
    }

    /// The breakpoints of the script at `asset` path, and the disk path the client named it by.
    pub(crate) fn breakpoints_of(&self, asset: &str) -> Vec<Arc<LineBreakpoint>> {
        let breakpoints = lock(&self.breakpoints);
        breakpoints
            .iter()
            .filter(|(disk, _)| names_asset(disk, asset))
            .flat_map(|(_, lines)| lines.iter().cloned())
            .collect()
    }

    /// The disk path of the script at `asset` path: the client's own spelling when it set
    /// breakpoints in it, or the asset root joined with it.
    pub(crate) fn disk_path(&self, asset: &str) -> String {
        let breakpoints = lock(&self.breakpoints);
        if let Some(disk) = breakpoints.keys().find(|disk| names_asset(disk, asset)) {
            return disk.clone();
        }
        self.root.join(asset).to_string_lossy().into_owned()
    }

    /// Records that a VM loaded the script at `asset` path.
    pub(crate) fn loaded(&self, asset: &str) {
        let mut sources = lock(&self.sources);
        if !sources.contains(asset) {
            // Only a new path is copied: a path is loaded again at every hot reload.
            sources.insert(asset.to_owned());
        }
    }

    /// The asset paths of every script file loaded so far.
    pub(crate) fn sources(&self) -> Vec<String> {
        lock(&self.sources).iter().cloned().collect()
    }

    /// Waits until no other script is stopped, and holds that for the length of a stop.
    pub(crate) fn stop_gate(&self) -> MutexGuard<'_, ()> {
        lock(&self.gate)
    }

    /// Sends output to the client, if one is attached; output that finds the channel full is
    /// counted and told later.
    pub(crate) fn output(&self, category: &'static str, text: String) {
        if !self.attached.load(Ordering::Relaxed) {
            return;
        }
        if self
            .events
            .try_send(Event::Output { category, text })
            .is_err()
        {
            self.dropped_output.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Whether the client's disk path `disk` names the script at `asset` path: it ends with it, at
/// a folder boundary.
pub(crate) fn names_asset(disk: &str, asset: &str) -> bool {
    let disk = disk.replace('\\', "/");
    let asset = asset.trim_start_matches("./");
    disk == asset
        || disk
            .strip_suffix(asset)
            .is_some_and(|head| head.ends_with('/'))
}

/// The asset path of a chunk name (`@scripts/a.luau`), for chunks of script files.
pub(crate) fn asset_of(source: &str) -> Option<&str> {
    source.strip_prefix('@')
}

/// Locks `mutex`, also after a thread panicked holding it: the data is plain.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The file name of a path, for a stack frame's source name.
pub(crate) fn file_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_paths_name_assets_at_folder_boundaries() {
        assert!(names_asset("/game/assets/scripts/a.luau", "scripts/a.luau"));
        assert!(names_asset(
            "C:\\game\\assets\\scripts\\a.luau",
            "scripts/a.luau"
        ));
        assert!(names_asset("scripts/a.luau", "scripts/a.luau"));
        assert!(!names_asset(
            "/game/assets/myscripts/a.luau",
            "scripts/a.luau"
        ));
        assert!(!names_asset(
            "/game/assets/scripts/a.luau",
            "scripts/b.luau"
        ));
    }
}
