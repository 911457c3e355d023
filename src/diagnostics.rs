//! What scripts cost: [`ScriptProfiles`] (time, calls, errors and memory per script, jobs by
//! name), [`ScriptDiagnosticsPlugin`] for Bevy's diagnostics, and [`ScriptBudgetExceeded`],
//! the frame budget's report.
//!
//! The figures come from the accounting of every call into a script (see
//! [`ScriptConfig::profiling`](crate::ScriptConfig::profiling)): hooks, entity script methods,
//! event and CVar handlers, `task` coroutines, console commands written in Lua, job callbacks
//! and each version's top level as it loads. The console's `scripts` and `profile` commands and
//! Lua's `profiler.scripts()` read them too.

use bevy_app::{App, Plugin, Update};
use bevy_diagnostic::{Diagnostic, DiagnosticPath, Diagnostics, RegisterDiagnostic};
use bevy_ecs::message::Message;
use bevy_ecs::resource::Resource;
use bevy_ecs::schedule::IntoScheduleConfigs;
use bevy_ecs::system::Res;
use bevy_ecs::world::World;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// How far back the per-frame figures look: a second, or the last [`WINDOW_FRAMES`] frames
/// when there were more in that second.
pub const WINDOW: Duration = Duration::from_secs(1);

/// The most frames the per-frame figures look at.
pub const WINDOW_FRAMES: usize = 1000;

/// Times of the frames of the window, with their sum and maximum kept up to date as frames come
/// and go, so a step costs the same however many frames the window holds.
#[derive(Debug, Clone, Default)]
struct Window {
    /// `(frame, when, time)`, oldest first.
    values: VecDeque<(u64, Instant, Duration)>,
    sum: Duration,
    /// The candidates for the maximum, in decreasing order of time and increasing frame: a
    /// monotonic queue.
    peaks: VecDeque<(u64, Duration)>,
}

impl Window {
    fn push(&mut self, frame: u64, at: Instant, time: Duration) {
        self.values.push_back((frame, at, time));
        self.sum += time;
        while self.peaks.back().is_some_and(|(_, t)| *t <= time) {
            self.peaks.pop_back();
        }
        self.peaks.push_back((frame, time));
    }

    /// Drops the frames older than [`WINDOW`] or beyond [`WINDOW_FRAMES`]; returns the oldest
    /// frame kept.
    fn expire(&mut self, now: Instant) -> u64 {
        while let Some(&(frame, at, _)) = self.values.front() {
            let old = now.duration_since(at) > WINDOW || self.values.len() > WINDOW_FRAMES;
            if !old {
                return frame;
            }
            self.pop();
        }
        u64::MAX
    }

    /// Drops the frames before `oldest`.
    fn expire_before(&mut self, oldest: u64) {
        while self
            .values
            .front()
            .is_some_and(|(frame, _, _)| *frame < oldest)
        {
            self.pop();
        }
    }

    fn pop(&mut self) {
        if let Some((frame, _, time)) = self.values.pop_front() {
            self.sum -= time;
            if self.peaks.front().is_some_and(|(f, _)| *f == frame) {
                self.peaks.pop_front();
            }
        }
    }

    fn len(&self) -> usize {
        self.values.len()
    }

    fn max(&self) -> Duration {
        self.peaks.front().map_or(Duration::ZERO, |(_, time)| *time)
    }
}

/// What the scripts of the main VM and the jobs of the worker pool cost, updated at the end of
/// every scripting step.
#[derive(Resource, Debug, Clone, Default)]
pub struct ScriptProfiles {
    /// The last scripting step, wall time.
    pub step: Duration,
    /// The mean scripting step over the last second.
    pub step_average: Duration,
    /// The longest scripting step over the last second.
    pub step_peak: Duration,
    /// Bytes the main VM and the actor VMs hold.
    pub memory: usize,
    /// Of those, bytes not attributed to a script: the VM's own (built-in libraries, string
    /// table), the crate's (script environments, entity script instances), and what scripts
    /// past Luau's 254 memory categories allocated (see [`ScriptProfile::memory`]).
    pub shared_memory: usize,
    /// Every script that ran or failed, in the order it first did.
    pub scripts: Vec<ScriptProfile>,
    /// Jobs by name, in the order each first completed.
    pub jobs: Vec<JobProfile>,
    /// Jobs started and not yet completed: waiting for a worker or running.
    pub queued_jobs: usize,
    /// What the actors' phase cost in the last step.
    pub actors: ActorPhaseProfile,
    /// The steps of the last second.
    steps: Window,
    by_path: HashMap<String, usize>,
    by_job: HashMap<String, usize>,
    /// When memory was last measured, and how many scripts there were then.
    measured: Option<Instant>,
    measured_scripts: usize,
    /// Scripting steps accounted since the app started.
    steps_total: u64,
}

/// What the actors' phase cost in the last scripting step (all zero without actors).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ActorPhaseProfile {
    /// Wall time of the parallel phase: every actor VM's `on_update`s at once.
    pub parallel: Duration,
    /// Wall time of applying the writes the phase queued, on the main thread: the serial share
    /// of the phase, which bounds what more actor VMs can gain.
    pub apply: Duration,
    /// Wall time of the serial part: the `on_update`s that called `task.synchronize()`.
    pub serial: Duration,
    /// Writes the phase queued.
    pub writes: usize,
    /// Writes dropped since the app started because their entity (the one written, or the
    /// writing actor's) was despawned by a write applied before them.
    pub dropped_writes: u64,
}

/// What one script costs. Time is wall time spent in the script's own calls from the host,
/// nested calls included (a console command a hook runs is also the hook's).
#[derive(Debug, Clone, Default)]
pub struct ScriptProfile {
    /// The script's asset path.
    pub path: String,
    /// Mean time per frame over the last second (or the last 1,000 frames, when there were
    /// more), frames it did not run in included.
    pub frame_time: Duration,
    /// Its longest frame over the last second.
    pub peak: Duration,
    /// Calls into the script since it first ran (a run of entity script instances counts one
    /// call per instance).
    pub calls: u64,
    /// Time in those calls.
    pub total_time: Duration,
    /// Errors the script raised since it first ran, compile errors included.
    pub errors: u64,
    /// Bytes the script's code allocated and has not freed, measured once a second and when
    /// the script first runs. `None` for a script past Luau's 254 memory categories, whose
    /// allocations are counted in [`ScriptProfiles::shared_memory`].
    pub memory: Option<usize>,
    /// Its calls by kind and name, in the order each first ran.
    pub sites: Vec<SiteProfile>,
    /// This script's time in the frames of [`ScriptProfiles`]' window that it ran in.
    frames: Window,
}

/// One kind of call of one script: its hook, an event's handlers, a method, its tasks...
#[derive(Debug, Clone, Default)]
pub struct SiteProfile {
    /// `load`, `hook`, `method`, `event`, `cvar`, `task`, `command` or `job`.
    pub kind: &'static str,
    /// The method, event, CVar or command; `on_update` for a hook, `task` for tasks.
    pub name: String,
    /// Calls since the script first ran.
    pub calls: u64,
    /// Time in those calls.
    pub time: Duration,
    /// Time in the last frame.
    pub last_frame: Duration,
}

/// What the jobs of one name cost on the worker pool.
#[derive(Debug, Clone, Default)]
pub struct JobProfile {
    /// The job's name (`jobs.define`), or `chunk` for `ScriptRunner::run_chunk`.
    pub name: String,
    /// Jobs completed.
    pub completed: u64,
    /// Of those, jobs that failed.
    pub failed: u64,
    /// Time spent running them on workers.
    pub run_time: Duration,
    /// Time they waited for a worker.
    pub wait_time: Duration,
}

impl JobProfile {
    /// Mean time a job ran.
    pub fn mean_run_time(&self) -> Duration {
        mean(self.run_time, self.completed)
    }

    /// Mean time a job waited for a worker.
    pub fn mean_wait_time(&self) -> Duration {
        mean(self.wait_time, self.completed)
    }
}

fn mean(total: Duration, count: u64) -> Duration {
    match u32::try_from(count) {
        Ok(0) => Duration::ZERO,
        Ok(count) => total / count,
        Err(_) => Duration::from_secs_f64(total.as_secs_f64() / count as f64),
    }
}

/// One step's figures for one script, as the engine hands them over.
pub(crate) struct StepFigures<'a> {
    pub path: &'a str,
    pub time: Duration,
    pub calls: u64,
    pub sites: Vec<(&'static str, &'a str, Duration, u64)>,
}

impl ScriptProfiles {
    /// The profile of the script at `path`, if it ran or failed.
    pub fn script(&self, path: &str) -> Option<&ScriptProfile> {
        self.by_path.get(path).map(|i| &self.scripts[*i])
    }

    /// The profile of the jobs called `name`, if one completed.
    pub fn job(&self, name: &str) -> Option<&JobProfile> {
        self.by_job.get(name).map(|i| &self.jobs[*i])
    }

    /// The scripts, the most expensive per frame first.
    pub fn by_time(&self) -> Vec<&ScriptProfile> {
        let mut scripts: Vec<&ScriptProfile> = self.scripts.iter().collect();
        scripts.sort_by(|a, b| b.frame_time.cmp(&a.frame_time).then(a.path.cmp(&b.path)));
        scripts
    }

    fn index(&mut self, path: &str) -> usize {
        if let Some(index) = self.by_path.get(path) {
            return *index;
        }
        let index = self.scripts.len();
        self.scripts.push(ScriptProfile {
            path: path.to_owned(),
            ..Default::default()
        });
        self.by_path.insert(path.to_owned(), index);
        index
    }

    /// Adds a finished step: its wall time and every script's figures.
    pub(crate) fn add_step<'a>(
        &mut self,
        now: Instant,
        step: Duration,
        figures: impl IntoIterator<Item = StepFigures<'a>>,
    ) {
        self.steps_total += 1;
        let frame = self.steps_total;
        self.steps.push(frame, now, step);
        let oldest = self.steps.expire(now);
        for script in &mut self.scripts {
            for site in &mut script.sites {
                site.last_frame = Duration::ZERO;
            }
        }
        for figure in figures {
            if figure.calls == 0 {
                continue;
            }
            let index = self.index(figure.path);
            let script = &mut self.scripts[index];
            script.frames.push(frame, now, figure.time);
            script.calls += figure.calls;
            script.total_time += figure.time;
            for (kind, name, time, calls) in figure.sites {
                if calls == 0 {
                    continue;
                }
                let site = match script
                    .sites
                    .iter_mut()
                    .position(|s| s.kind == kind && s.name == name)
                {
                    Some(at) => &mut script.sites[at],
                    None => {
                        script.sites.push(SiteProfile {
                            kind,
                            name: name.to_owned(),
                            ..Default::default()
                        });
                        script.sites.last_mut().expect("just pushed")
                    }
                };
                site.calls += calls;
                site.time += time;
                site.last_frame = time;
            }
        }
        let frames = self.steps.len().max(1) as u32;
        for script in &mut self.scripts {
            script.frames.expire_before(oldest);
            script.frame_time = script.frames.sum / frames;
            script.peak = script.frames.max();
        }
        self.step = step;
        self.step_average = self.steps.sum / frames;
        self.step_peak = self.steps.max();
    }

    /// Counts an error of the script (or job, or console) at `path`.
    pub(crate) fn add_error(&mut self, path: &str) {
        let index = self.index(path);
        self.scripts[index].errors += 1;
    }

    /// Whether memory is due to be measured again at `now`: a second after the last time, or
    /// at once when a script appeared since.
    pub(crate) fn memory_due(&self, now: Instant) -> bool {
        self.measured_scripts != self.scripts.len()
            || self
                .measured
                .is_none_or(|t| now.duration_since(t) >= WINDOW)
    }

    /// Records a measurement of memory: the VM's total and each script's.
    pub(crate) fn set_memory<'a>(
        &mut self,
        now: Instant,
        total: usize,
        scripts: impl IntoIterator<Item = (&'a str, Option<usize>)>,
    ) {
        self.measured = Some(now);
        self.measured_scripts = self.scripts.len();
        self.memory = total;
        let mut attributed = 0;
        for (path, bytes) in scripts {
            let index = self.index(path);
            self.scripts[index].memory = bytes;
            attributed += bytes.unwrap_or_default();
        }
        self.shared_memory = total.saturating_sub(attributed);
    }

    /// Adds a completed job.
    pub(crate) fn add_job(&mut self, name: &str, ok: bool, wait: Duration, run: Duration) {
        let index = match self.by_job.get(name) {
            Some(index) => *index,
            None => {
                self.jobs.push(JobProfile {
                    name: name.to_owned(),
                    ..Default::default()
                });
                self.by_job.insert(name.to_owned(), self.jobs.len() - 1);
                self.jobs.len() - 1
            }
        };
        let job = &mut self.jobs[index];
        job.completed += 1;
        job.failed += u64::from(!ok);
        job.wait_time += wait;
        job.run_time += run;
    }
}

/// The frame budget's report: the scripting step took longer than
/// [`ScriptConfig::frame_budget`](crate::ScriptConfig::frame_budget). Written at most once a
/// second; the scripts go on running.
#[derive(Message, Debug, Clone, PartialEq)]
pub struct ScriptBudgetExceeded {
    /// How long the step took.
    pub step: Duration,
    /// The budget.
    pub budget: Duration,
    /// The scripts that ran in the step, the most expensive first, with their time in it.
    pub scripts: Vec<(String, Duration)>,
}

/// Reports the scripting step to Bevy's diagnostics, so `LogDiagnosticsPlugin` and any
/// diagnostics overlay show it:
/// [`STEP_TIME`](Self::STEP_TIME), [`MEMORY`](Self::MEMORY), [`JOB_QUEUE`](Self::JOB_QUEUE)
/// and [`SCRIPTS`](Self::SCRIPTS).
///
/// ```
/// use bevy_app::{App, TaskPoolPlugin};
/// use bevy_asset::AssetPlugin;
/// use bevy_diagnostic::DiagnosticsStore;
/// use bevy_luau::prelude::*;
/// use bevy_time::TimePlugin;
///
/// let mut app = App::new();
/// app.add_plugins((TaskPoolPlugin::default(), TimePlugin, AssetPlugin::default()))
///     .add_plugins((LuauScriptingPlugin, ScriptDiagnosticsPlugin));
/// app.update();
/// let store = app.world().resource::<DiagnosticsStore>();
/// assert!(store.get(&ScriptDiagnosticsPlugin::STEP_TIME).is_some());
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct ScriptDiagnosticsPlugin;

impl ScriptDiagnosticsPlugin {
    /// The scripting step's wall time, in milliseconds.
    pub const STEP_TIME: DiagnosticPath = DiagnosticPath::const_new("bevy_luau/step_time");
    /// Bytes the main VM holds.
    pub const MEMORY: DiagnosticPath = DiagnosticPath::const_new("bevy_luau/memory");
    /// Jobs started and not yet completed.
    pub const JOB_QUEUE: DiagnosticPath = DiagnosticPath::const_new("bevy_luau/job_queue");
    /// Scripts that have run.
    pub const SCRIPTS: DiagnosticPath = DiagnosticPath::const_new("bevy_luau/scripts");
}

impl Plugin for ScriptDiagnosticsPlugin {
    fn build(&self, app: &mut App) {
        app.register_diagnostic(Diagnostic::new(Self::STEP_TIME).with_suffix("ms"))
            .register_diagnostic(Diagnostic::new(Self::MEMORY).with_suffix(" bytes"))
            .register_diagnostic(Diagnostic::new(Self::JOB_QUEUE).with_suffix(" jobs"))
            .register_diagnostic(Diagnostic::new(Self::SCRIPTS).with_suffix(" scripts"))
            .add_systems(Update, measure.after(crate::ScriptingSystem));
    }
}

fn measure(mut diagnostics: Diagnostics, profiles: Option<Res<ScriptProfiles>>) {
    let Some(profiles) = profiles else {
        return;
    };
    diagnostics.add_measurement(&ScriptDiagnosticsPlugin::STEP_TIME, || {
        profiles.step.as_secs_f64() * 1000.0
    });
    diagnostics.add_measurement(&ScriptDiagnosticsPlugin::MEMORY, || profiles.memory as f64);
    diagnostics.add_measurement(&ScriptDiagnosticsPlugin::JOB_QUEUE, || {
        profiles.queued_jobs as f64
    });
    diagnostics.add_measurement(&ScriptDiagnosticsPlugin::SCRIPTS, || {
        profiles.scripts.len() as f64
    });
}

/// A `profile <seconds>` run of the console: what the scripts had spent when it started, and
/// when it ends in game time.
#[derive(Resource, Debug, Default)]
pub(crate) struct ProfileRun {
    /// Seconds asked for.
    seconds: f64,
    /// Game time it ends at; `None` once done.
    ends: Option<f64>,
    /// Each script's total time and calls when it started.
    start: HashMap<String, (Duration, u64)>,
    /// Scripting steps when it started.
    steps: u64,
    /// The report of the last run that ended.
    report: Option<String>,
}

/// How many scripts `profile` reports.
const PROFILE_TOP: usize = 10;

/// The console's `scripts [path]`.
pub(crate) fn scripts_command(world: &World, path: Option<&str>) -> Result<String, String> {
    let Some(profiles) = world.get_resource::<ScriptProfiles>() else {
        return Err("no script has run yet".to_owned());
    };
    match path {
        None => Ok(scripts_table(profiles)),
        Some(path) => {
            let found: Vec<&ScriptProfile> = profiles
                .scripts
                .iter()
                .filter(|s| s.path == path || s.path.ends_with(&format!("/{path}")))
                .collect();
            match found.as_slice() {
                [script] => Ok(script_table(script)),
                [] => Err(format!("no script `{path}` has run; `scripts` lists them")),
                _ => Err(format!(
                    "`{path}` names {} scripts: {}",
                    found.len(),
                    found
                        .iter()
                        .map(|s| s.path.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
        }
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// `1.5 KiB`, `3.2 MiB`.
fn bytes(bytes: usize) -> String {
    let bytes = bytes as f64;
    if bytes < 1024.0 {
        format!("{bytes:.0} B")
    } else if bytes < 1024.0 * 1024.0 {
        format!("{:.1} KiB", bytes / 1024.0)
    } else {
        format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
    }
}

fn scripts_table(profiles: &ScriptProfiles) -> String {
    let mut out = format!(
        "scripting step {:.3} ms (mean over 1 s; peak {:.3} ms), main VM {} ({} outside scripts), {} jobs queued\n",
        ms(profiles.step_average),
        ms(profiles.step_peak),
        bytes(profiles.memory),
        bytes(profiles.shared_memory),
        profiles.queued_jobs,
    );
    out.push_str("ms/frame   peak ms      calls     memory  errors  script");
    for script in profiles.by_time() {
        let memory = script.memory.map_or_else(|| "shared".to_owned(), bytes);
        out.push_str(&format!(
            "\n{:8.3}  {:8.3}  {:9}  {:>9}  {:6}  {}",
            ms(script.frame_time),
            ms(script.peak),
            script.calls,
            memory,
            script.errors,
            script.path
        ));
    }
    for job in &profiles.jobs {
        out.push_str(&format!(
            "\njob {}: {} done ({} failed), {:.3} ms mean run, {:.3} ms mean wait",
            job.name,
            job.completed,
            job.failed,
            ms(job.mean_run_time()),
            ms(job.mean_wait_time())
        ));
    }
    out
}

fn script_table(script: &ScriptProfile) -> String {
    let memory = script.memory.map_or_else(|| "shared".to_owned(), bytes);
    let mut out = format!(
        "{}: {:.3} ms/frame (peak {:.3} ms), {} calls taking {:.3} ms in all, memory {memory}, {} errors\n",
        script.path,
        ms(script.frame_time),
        ms(script.peak),
        script.calls,
        ms(script.total_time),
        script.errors
    );
    out.push_str("last frame ms      calls   total ms   us/call  kind     name");
    for site in &script.sites {
        let per_call = if site.calls == 0 {
            0.0
        } else {
            site.time.as_secs_f64() * 1e6 / site.calls as f64
        };
        out.push_str(&format!(
            "\n{:13.3}  {:9}  {:9.3}  {:8.2}  {:<7}  {}",
            ms(site.last_frame),
            site.calls,
            ms(site.time),
            per_call,
            site.kind,
            site.name
        ));
    }
    out
}

/// The console's `profile [seconds]`: starts a run, or shows the last report.
pub(crate) fn profile_command(world: &mut World, seconds: Option<&str>) -> Result<String, String> {
    let now = world
        .get_resource::<bevy_time::Time>()
        .map_or(0.0, |t| t.elapsed_secs_f64());
    let Some(seconds) = seconds else {
        let run = world.get_resource::<ProfileRun>();
        return match run {
            Some(ProfileRun {
                ends: Some(ends), ..
            }) => Ok(format!(
                "profiling: {:.1} s of game time left",
                (ends - now).max(0.0)
            )),
            Some(ProfileRun {
                report: Some(report),
                ..
            }) => Ok(report.clone()),
            _ => Err("no profile yet; `profile <seconds>` starts one".to_owned()),
        };
    };
    let seconds: f64 = match seconds.parse() {
        Ok(s) if s > 0.0 && s <= 3600.0 => s,
        _ => {
            return Err(format!(
                "profile <seconds>: `{seconds}` is not a number of seconds from 0 to 3600"
            ));
        }
    };
    let Some(profiles) = world.get_resource::<ScriptProfiles>() else {
        return Err("scripts are not accounted: ScriptConfig::profiling is off".to_owned());
    };
    let start = profiles
        .scripts
        .iter()
        .map(|s| (s.path.clone(), (s.total_time, s.calls)))
        .collect();
    let steps = profiles.steps_total;
    world.insert_resource(ProfileRun {
        seconds,
        ends: Some(now + seconds),
        start,
        steps,
        report: None,
    });
    Ok(format!(
        "profiling for {seconds} s of game time; `profile` shows the report when it is done"
    ))
}

/// Ends a `profile` run whose time is up: logs its report and writes it as a message.
pub(crate) fn finish_profile(world: &mut World, now: f64) {
    let due = world
        .get_resource::<ProfileRun>()
        .is_some_and(|run| run.ends.is_some_and(|ends| now >= ends));
    if !due {
        return;
    }
    let Some(profiles) = world.get_resource::<ScriptProfiles>() else {
        return;
    };
    let Some(run) = world.get_resource::<ProfileRun>() else {
        return;
    };
    let steps = profiles.steps_total.saturating_sub(run.steps).max(1);
    let mut spent: Vec<(String, Duration, u64)> = profiles
        .scripts
        .iter()
        .map(|s| {
            let (time, calls) = run.start.get(&s.path).copied().unwrap_or_default();
            (
                s.path.clone(),
                s.total_time.saturating_sub(time),
                s.calls.saturating_sub(calls),
            )
        })
        .filter(|(_, _, calls)| *calls > 0)
        .collect();
    spent.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let total: Duration = spent.iter().map(|(_, t, _)| *t).sum();
    let mut report = format!(
        "profile of {} s, {steps} steps: scripts took {:.3} ms in all, {:.3} ms per step; top {}:\n",
        run.seconds,
        ms(total),
        ms(total) / steps as f64,
        PROFILE_TOP.min(spent.len()),
    );
    report.push_str("   total ms   ms/step   share      calls  script");
    for (path, time, calls) in spent.iter().take(PROFILE_TOP) {
        let share = if total.is_zero() {
            0.0
        } else {
            time.as_secs_f64() / total.as_secs_f64() * 100.0
        };
        report.push_str(&format!(
            "\n{:11.3}  {:8.3}  {:5.1}%  {:9}  {path}",
            ms(*time),
            ms(*time) / steps as f64,
            share,
            calls
        ));
    }
    let scripts = spent;
    let seconds = run.seconds;
    tracing::info!(target: "bevy_luau::console", "{report}");
    world.write_message(ScriptProfileReport {
        seconds,
        steps,
        scripts,
        text: report.clone(),
    });
    if let Some(mut run) = world.get_resource_mut::<ProfileRun>() {
        run.ends = None;
        run.report = Some(report);
    }
}

/// The report of a console `profile <seconds>` run, written when its time is up (and logged).
#[derive(Message, Debug, Clone, PartialEq)]
pub struct ScriptProfileReport {
    /// The seconds of game time it ran.
    pub seconds: f64,
    /// Scripting steps in that time.
    pub steps: u64,
    /// Every script that ran in it, the most expensive first: path, time, calls.
    pub scripts: Vec<(String, Duration, u64)>,
    /// The report as the console prints it.
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_keeps_its_sum_and_maximum_as_frames_come_and_go() {
        let start = Instant::now();
        let mut window = Window::default();
        let ms = Duration::from_millis;
        for (frame, time) in [5, 9, 3, 7, 1].into_iter().enumerate() {
            window.push(frame as u64, start + ms(frame as u64 * 300), ms(time));
        }
        assert_eq!((window.sum, window.max(), window.len()), (ms(25), ms(9), 5));
        // At 1.35 s, the frames of 0 and 0.3 s are over a second old.
        assert_eq!(window.expire(start + ms(1350)), 2);
        assert_eq!((window.sum, window.max(), window.len()), (ms(11), ms(7), 3));
        window.expire_before(4);
        assert_eq!((window.sum, window.max(), window.len()), (ms(1), ms(1), 1));
        // More than WINDOW_FRAMES frames in a second: the oldest go.
        let mut busy = Window::default();
        for frame in 0..(WINDOW_FRAMES as u64 + 10) {
            busy.push(frame, start, ms(1));
        }
        assert_eq!(busy.expire(start), 10);
        assert_eq!(busy.len(), WINDOW_FRAMES);
    }
}
