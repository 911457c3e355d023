//! [`ActionQueue`]: what workers (and later the console and CVar setters) send the main thread.

use crate::error::{ScriptError, ScriptErrorKind};
use crate::value::ScriptValue;
use bevy_ecs::entity::Entity;
use bevy_ecs::resource::Resource;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Identifies one job given to the [`ScriptRunner`](crate::ScriptRunner).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(pub u64);

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "job {}", self.0)
    }
}

/// A deferred world change, issued by a script (`commands.*`, in the main VM or a worker) and
/// applied by the main thread in order, at the end of the scripting step.
#[derive(Debug, Clone, PartialEq)]
pub enum ScriptCommand {
    /// Spawns an entity with components by short type name.
    Spawn(Vec<(String, ScriptValue)>),
    /// Replaces (or inserts) one component.
    Set(Entity, String, ScriptValue),
    /// Removes one component.
    Remove(Entity, String),
    /// Despawns an entity, running its entity script's `on_despawn`.
    Despawn(Entity),
    /// Emits an event, as `events.emit` does.
    Emit(String, ScriptValue),
}

/// How long a job waited for a worker VM and then ran on it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobTiming {
    /// From `ScriptRunner::call` or `run_chunk` until a worker took it.
    pub waited: std::time::Duration,
    /// On the worker.
    pub ran: std::time::Duration,
}

/// Something for the main thread to do at stage 2 of the next scripting step.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Action {
    /// A job finished: its result goes to Lua callbacks, awaiting coroutines and
    /// [`JobCompleted`](crate::JobCompleted).
    ScriptResult {
        /// The job.
        id: JobId,
        /// The job name (`run_chunk` for source chunks).
        job: String,
        /// What it returned, or why it failed.
        result: Result<ScriptValue, ScriptError>,
        /// How long it waited for a worker and ran.
        timing: JobTiming,
    },
    /// A console variable changed: Lua's `cvar.on_change` handlers and the
    /// [`CVarChanged`](crate::CVarChanged) message hear of it.
    CVarChanged(crate::cvar::value::CVarChanged),
    /// A deferred world command issued by a worker; applied in the order received.
    Command(ScriptCommand),
}

/// A bounded queue of [`Action`]s from any thread to the main thread.
///
/// Producers wait while it is full (backpressure), up to [`ActionQueue::PRODUCER_PATIENCE`];
/// a producer that waited that long puts its action on an overflow list instead, counted in
/// [`ActionQueue::overflowed`] and reported as a [`ScriptErrorKind::QueueFull`] error, so no
/// action is ever dropped. The main thread only ever takes what is there without waiting, so a
/// full queue can never deadlock the app. Clones share the queue.
#[derive(Resource, Clone)]
pub struct ActionQueue {
    sender: Sender<Action>,
    receiver: Receiver<Action>,
    overflow: Arc<Mutex<Vec<Action>>>,
    overflowed: Arc<AtomicU64>,
    /// Set after an action goes on the overflow list, so the main thread only locks it then.
    overflow_waiting: Arc<AtomicBool>,
}

impl std::fmt::Debug for ActionQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActionQueue")
            .field("len", &self.len())
            .field("capacity", &self.sender.capacity())
            .field("overflowed", &self.overflowed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl ActionQueue {
    /// How long a producer waits for room before it uses the overflow list.
    pub const PRODUCER_PATIENCE: Duration = Duration::from_secs(5);

    /// Creates a queue holding at most `capacity` actions (at least one).
    pub fn new(capacity: usize) -> Self {
        let (sender, receiver) = crossbeam_channel::bounded(capacity.max(1));
        Self {
            sender,
            receiver,
            overflow: Arc::default(),
            overflowed: Arc::default(),
            overflow_waiting: Arc::default(),
        }
    }

    /// Sends an action, waiting while the queue is full.
    pub fn push(&self, action: Action) {
        self.push_with_patience(action, Self::PRODUCER_PATIENCE);
    }

    /// Sends an action, waiting at most `patience` for room before using the overflow list.
    pub fn push_with_patience(&self, action: Action, patience: Duration) {
        let action = match self.sender.try_send(action) {
            Ok(()) => return,
            Err(TrySendError::Full(action) | TrySendError::Disconnected(action)) => action,
        };
        if let Err(error) = self.sender.send_timeout(action, patience) {
            let action = error.into_inner();
            self.overflowed.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut overflow) = self.overflow.lock() {
                overflow.push(action);
            }
            self.overflow_waiting.store(true, Ordering::Release);
        }
    }

    /// Takes every waiting action without blocking: those in the queue in the order they were
    /// sent, then any that overflowed. `overflow_errors` receives one
    /// [`ScriptErrorKind::QueueFull`] error for each overflowed action.
    pub fn drain_reporting(&self, overflow_errors: &mut Vec<ScriptError>) -> Vec<Action> {
        let mut actions: Vec<Action> = self.receiver.try_iter().collect();
        if !self.overflow_waiting.swap(false, Ordering::Acquire) {
            return actions;
        }
        let overflowed = self
            .overflow
            .lock()
            .map(|mut o| std::mem::take(&mut *o))
            .unwrap_or_default();
        for action in overflowed {
            let (script, what) = match &action {
                Action::ScriptResult { id, job, .. } => {
                    (job.clone(), format!("the result of {id}"))
                }
                Action::Command(command) => {
                    ("commands".to_owned(), format!("the command {command:?}"))
                }
                Action::CVarChanged(change) => (change.name.clone(), "a CVar change".to_owned()),
            };
            let message = format!(
                "the action queue stayed full for {:?}, so {what} went to the overflow list",
                Self::PRODUCER_PATIENCE
            );
            overflow_errors.push(ScriptError::new(
                script,
                ScriptErrorKind::QueueFull,
                message,
            ));
            actions.push(action);
        }
        actions
    }

    /// Takes every waiting action without blocking (see [`Self::drain_reporting`]), logging
    /// an error for each one that overflowed.
    pub fn drain(&self) -> Vec<Action> {
        let mut errors = Vec::new();
        let actions = self.drain_reporting(&mut errors);
        for error in errors {
            tracing::error!(target: "bevy_luau", "{error}");
        }
        actions
    }

    /// Actions waiting in the queue now.
    pub fn len(&self) -> usize {
        self.receiver.len()
    }

    /// Whether no action is waiting.
    pub fn is_empty(&self) -> bool {
        self.receiver.is_empty()
    }

    /// How many actions the queue can hold.
    pub fn capacity(&self) -> usize {
        self.sender.capacity().unwrap_or(usize::MAX)
    }

    /// How many actions producers ever had to put on the overflow list.
    pub fn overflowed(&self) -> u64 {
        self.overflowed.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(n: u32) -> Action {
        Action::Command(ScriptCommand::Emit(format!("e{n}"), ScriptValue::Nil))
    }

    #[test]
    fn actions_drain_in_order() {
        let queue = ActionQueue::new(4);
        for n in 0..3 {
            queue.push(command(n));
        }
        assert_eq!(queue.drain(), vec![command(0), command(1), command(2)]);
        assert!(queue.is_empty());
    }

    #[test]
    fn a_full_queue_blocks_then_overflows_without_losing_anything() {
        let queue = ActionQueue::new(1);
        queue.push(command(0));
        queue.push_with_patience(command(1), Duration::from_millis(20));
        assert_eq!(queue.overflowed(), 1);
        let mut errors = Vec::new();
        let drained = queue.drain_reporting(&mut errors);
        assert_eq!(drained, vec![command(0), command(1)]);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].kind, ScriptErrorKind::QueueFull);
    }

    #[test]
    fn a_waiting_producer_goes_on_when_the_main_thread_drains() {
        let queue = ActionQueue::new(1);
        queue.push(command(0));
        let producer = {
            let queue = queue.clone();
            std::thread::spawn(move || queue.push(command(1)))
        };
        let mut seen = Vec::new();
        while seen.len() < 2 {
            seen.extend(queue.drain());
            std::thread::yield_now();
        }
        producer.join().expect("producer");
        assert_eq!(seen, vec![command(0), command(1)]);
        assert_eq!(queue.overflowed(), 0);
    }
}
