//! The protocol thread: accepts one client at a time and answers its requests, forwarding
//! those about a stopped script to the VM thread that stopped.

use super::session::{Command, Event, LineBreakpoint, Resume, Session, file_name};
use super::wire::{WireError, read_message, write_message};
use crossbeam_channel::{Receiver, select};
use serde_json::{Value as Json, json};
use std::io::BufReader;
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// How long the protocol thread waits for a stopped VM to answer.
const ANSWER_TIME: Duration = Duration::from_secs(10);

/// Serves clients on `listener` on a thread of its own, for the life of the process.
pub(crate) fn spawn(listener: TcpListener, session: Arc<Session>, events: Receiver<Event>) {
    let busy = Arc::new(AtomicBool::new(false));
    let spawned = std::thread::Builder::new()
        .name("bevy_luau debugger".into())
        .spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else {
                    continue;
                };
                if busy.swap(true, Ordering::AcqRel) {
                    refuse(stream);
                    continue;
                }
                let (session, events, busy) = (session.clone(), events.clone(), busy.clone());
                let served = std::thread::Builder::new()
                    .name("bevy_luau debugger client".into())
                    .spawn(move || {
                        Client::serve(stream, &session, &events);
                        busy.store(false, Ordering::Release);
                    });
                if let Err(error) = served {
                    tracing::error!(target: "bevy_luau", "debugger: could not serve a client: {error}");
                }
            }
        });
    if let Err(error) = spawned {
        tracing::error!(target: "bevy_luau", "debugger: could not start its thread: {error}");
    }
}

/// Tells a second client that one is attached already, and closes its connection.
fn refuse(mut stream: TcpStream) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let text = "another debugger client is attached to this game; detach it first\n";
    let _ = write_message(
        &mut stream,
        &json!({"seq": 1, "type": "event", "event": "output", "body": {"category": "important", "output": text}}),
    );
    let _ = write_message(
        &mut stream,
        &json!({"seq": 2, "type": "event", "event": "terminated", "body": {}}),
    );
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

/// What the reader thread hands over.
enum Incoming {
    Message(Json),
    Bad(String),
    Gone,
}

/// One attached client.
struct Client<'a> {
    session: &'a Session,
    out: TcpStream,
    seq: u64,
    /// The thread id of the stopped VM, if one is.
    stopped: Option<i64>,
    /// The stopped VM's thread name.
    stopped_name: String,
}

impl<'a> Client<'a> {
    fn serve(stream: TcpStream, session: &'a Session, events: &Receiver<Event>) {
        let Ok(reader) = stream.try_clone() else {
            return;
        };
        let (incoming, received) = crossbeam_channel::bounded(64);
        let read = std::thread::Builder::new()
            .name("bevy_luau debugger reader".into())
            .spawn(move || {
                let mut reader = BufReader::new(reader);
                loop {
                    let message = match read_message(&mut reader) {
                        Ok(message) => Incoming::Message(message),
                        Err(WireError::Closed) => Incoming::Gone,
                        Err(error) if error.recoverable() => Incoming::Bad(error.to_string()),
                        Err(error) => {
                            let _ = incoming.send(Incoming::Bad(error.to_string()));
                            Incoming::Gone
                        }
                    };
                    let gone = matches!(message, Incoming::Gone);
                    if incoming.send(message).is_err() || gone {
                        return;
                    }
                }
            });
        if read.is_err() {
            return;
        }
        // Events of an earlier client are stale.
        while events.try_recv().is_ok() {}
        session.attached.store(true, Ordering::Release);
        let mut client = Client {
            session,
            out: stream,
            seq: 1,
            stopped: None,
            stopped_name: String::new(),
        };
        client.run(&received, events);
        session.attached.store(false, Ordering::Release);
        session.clear();
        let _ = session.commands.0.send(Command::Resume(Resume::Continue));
        let _ = client.out.shutdown(std::net::Shutdown::Both);
    }

    fn run(&mut self, received: &Receiver<Incoming>, events: &Receiver<Event>) {
        loop {
            select! {
                recv(received) -> message => match message {
                    Ok(Incoming::Message(message)) => {
                        if !self.request(&message) {
                            return;
                        }
                    }
                    Ok(Incoming::Bad(error)) => {
                        let body = json!({"category": "stderr", "output": format!("debugger: {error}\n")});
                        self.event("output", body);
                        self.send(&json!({
                            "type": "response", "request_seq": 0, "success": false,
                            "command": "", "message": error,
                        }));
                    }
                    Ok(Incoming::Gone) | Err(_) => return,
                },
                recv(events) -> event => match event {
                    Ok(Event::Stopped { thread, name, reason, text }) => {
                        self.stopped = Some(thread);
                        self.stopped_name = name;
                        let mut body = json!({"reason": reason, "threadId": thread, "allThreadsStopped": true});
                        if let Some(text) = text {
                            body["text"] = json!(text);
                            body["description"] = json!(format!("Paused on {reason}"));
                        }
                        self.event("stopped", body);
                    }
                    Ok(Event::Output { category, text }) => {
                        let dropped = self.session.dropped_output.swap(0, Ordering::Relaxed);
                        if dropped > 0 {
                            let note = format!("debugger: {dropped} lines of output were dropped: the game wrote faster than the client read\n");
                            self.event("output", json!({"category": "important", "output": note}));
                        }
                        self.event("output", json!({"category": category, "output": text}));
                    }
                    Ok(Event::Terminated) => {
                        self.event("terminated", json!({}));
                        return;
                    }
                    Err(_) => return,
                },
            }
        }
    }

    fn send(&mut self, message: &Json) {
        let mut message = message.clone();
        message["seq"] = json!(self.seq);
        self.seq += 1;
        if write_message(&mut self.out, &message).is_err() {
            let _ = self.out.shutdown(std::net::Shutdown::Both);
        }
    }

    fn event(&mut self, event: &str, body: Json) {
        self.send(&json!({"type": "event", "event": event, "body": body}));
    }

    fn respond(&mut self, request: &Json, result: Result<Json, String>) {
        let mut response = json!({
            "type": "response",
            "request_seq": request["seq"],
            "command": request["command"],
        });
        match result {
            Ok(body) => {
                response["success"] = json!(true);
                response["body"] = body;
            }
            Err(message) => {
                response["success"] = json!(false);
                response["message"] = json!(message);
                response["body"] = json!({"error": {"id": 1, "format": message}});
            }
        }
        self.send(&response);
    }

    /// Answers one request; `false` when the client is done.
    fn request(&mut self, request: &Json) -> bool {
        let arguments = &request["arguments"];
        let Some(command) = request["command"]
            .as_str()
            .filter(|_| request["type"] == "request")
        else {
            self.respond(
                request,
                Err(
                    "not a request: a message needs `\"type\": \"request\"` and a `command`".into(),
                ),
            );
            return true;
        };
        let result = match command {
            "initialize" => {
                self.respond(request, Ok(capabilities()));
                self.event("initialized", json!({}));
                return true;
            }
            "attach" | "configurationDone" => Ok(json!({})),
            "launch" => Err(
                "this debugger attaches to a running game: use an `attach` configuration".into(),
            ),
            "disconnect" | "terminate" => {
                self.respond(request, Ok(json!({})));
                return false;
            }
            "setBreakpoints" => self.set_breakpoints(arguments),
            "setExceptionBreakpoints" => {
                let on = arguments["filters"]
                    .as_array()
                    .is_some_and(|f| f.iter().any(|f| f == "error"));
                if self.session.errors.swap(on, Ordering::AcqRel) != on {
                    crate::ffi::debug::want_errors(on);
                }
                Ok(json!({}))
            }
            "threads" => {
                let mut threads = vec![json!({"id": 1, "name": "main"})];
                if let Some(stopped) = self.stopped.filter(|id| *id != 1) {
                    threads.push(json!({"id": stopped, "name": self.stopped_name}));
                }
                Ok(json!({"threads": threads}))
            }
            // A script is stopped already: nothing more to pause.
            "pause" if self.stopped.is_some() => Ok(json!({})),
            "pause" => {
                if !self.session.pause.swap(true, Ordering::AcqRel) {
                    crate::ffi::debug::want_pause(true);
                }
                Ok(json!({}))
            }
            "loadedSources" => {
                let sources: Vec<Json> = self
                    .session
                    .sources()
                    .iter()
                    .map(|asset| {
                        let path = self.session.disk_path(asset);
                        json!({"name": file_name(&path), "path": path})
                    })
                    .collect();
                Ok(json!({"sources": sources}))
            }
            "stackTrace" => {
                // A page of frames: `startFrame` and `levels` (0 or absent for all of them).
                let start = arguments["startFrame"].as_u64().unwrap_or(0);
                let levels = arguments["levels"].as_u64().filter(|l| *l > 0);
                let page = (
                    usize::try_from(start).unwrap_or(usize::MAX),
                    levels.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX)),
                );
                self.ask(|reply| Command::StackTrace(page, reply))
            }
            "scopes" => {
                let frame = arguments["frameId"].as_i64().unwrap_or(-1);
                self.ask(|reply| Command::Scopes(frame, reply))
            }
            "variables" => {
                let reference = arguments["variablesReference"].as_i64().unwrap_or(0);
                self.ask(|reply| Command::Variables(reference, reply))
            }
            "evaluate" => match arguments["expression"].as_str() {
                None => Err("evaluate needs an `expression`".into()),
                Some(_) if self.stopped.is_none() => {
                    Err("the game is running: evaluate works in a stopped script".into())
                }
                Some(expression) => {
                    let (frame, expression) =
                        (arguments["frameId"].as_i64(), expression.to_owned());
                    self.ask(|reply| Command::Evaluate {
                        frame,
                        expression,
                        reply,
                    })
                }
            },
            "setVariable" => {
                let reference = arguments["variablesReference"].as_i64().unwrap_or(0);
                let name = arguments["name"].as_str().unwrap_or_default().to_owned();
                let value = arguments["value"].as_str().unwrap_or_default().to_owned();
                self.ask(|reply| Command::SetVariable {
                    reference,
                    name,
                    value,
                    reply,
                })
            }
            "continue" | "next" | "stepIn" | "stepOut" => {
                let resume = match command {
                    "next" => Resume::Next,
                    "stepIn" => Resume::StepIn,
                    "stepOut" => Resume::StepOut,
                    _ => Resume::Continue,
                };
                match self.stopped.take() {
                    None => Err("no script is stopped".into()),
                    Some(thread) => {
                        let _ = self.session.commands.0.send(Command::Resume(resume));
                        self.respond(request, Ok(json!({"allThreadsContinued": true})));
                        self.event(
                            "continued",
                            json!({"threadId": thread, "allThreadsContinued": true}),
                        );
                        return true;
                    }
                }
            }
            other => Err(format!(
                "unknown command `{}`",
                crate::suggest::shown(other)
            )),
        };
        self.respond(request, result);
        true
    }

    /// Forwards a request to the stopped VM and waits for its answer.
    fn ask(
        &mut self,
        command: impl FnOnce(super::session::Reply) -> Command,
    ) -> Result<Json, String> {
        if self.stopped.is_none() {
            return Err("no script is stopped".into());
        }
        let (reply, answer) = crossbeam_channel::bounded(1);
        self.session
            .commands
            .0
            .send(command(reply))
            .map_err(|_| "the stopped script is gone".to_owned())?;
        answer
            .recv_timeout(ANSWER_TIME)
            .map_err(|_| "the stopped script did not answer".to_owned())?
    }

    fn set_breakpoints(&mut self, arguments: &Json) -> Result<Json, String> {
        let Some(path) = arguments["source"]["path"].as_str() else {
            return Err(
                "setBreakpoints needs `source.path`, the script file's path on disk".into(),
            );
        };
        let requested: Vec<Json> = match (&arguments["breakpoints"], &arguments["lines"]) {
            (Json::Array(breakpoints), _) => breakpoints.clone(),
            (_, Json::Array(lines)) => lines.iter().map(|line| json!({"line": line})).collect(),
            _ => Vec::new(),
        };
        let mut lines = Vec::new();
        for breakpoint in &requested {
            let Some(line) = breakpoint["line"]
                .as_u64()
                .and_then(|l| u32::try_from(l).ok())
            else {
                return Err(format!(
                    "a breakpoint needs a positive `line`: {breakpoint}"
                ));
            };
            let text = |key: &str| {
                breakpoint[key]
                    .as_str()
                    .filter(|s| !s.trim().is_empty())
                    .map(str::to_owned)
            };
            lines.push(Arc::new(LineBreakpoint {
                id: self.session.next_id(),
                line,
                condition: text("condition"),
                hit_condition: text("hitCondition"),
                log_message: text("logMessage"),
                hits: AtomicU64::new(0),
            }));
        }
        let shown: Vec<Json> = lines
            .iter()
            .map(|b| json!({"id": b.id, "verified": true, "line": b.line}))
            .collect();
        self.session.set_breakpoints(path.to_owned(), lines);
        Ok(json!({"breakpoints": shown}))
    }
}

/// What the server supports, for `initialize`.
fn capabilities() -> Json {
    json!({
        "supportsConfigurationDoneRequest": true,
        "supportsConditionalBreakpoints": true,
        "supportsHitConditionalBreakpoints": true,
        "supportsLogPoints": true,
        "supportsEvaluateForHovers": true,
        "supportsSetVariable": true,
        "supportsLoadedSourcesRequest": true,
        "supportsTerminateRequest": true,
        "exceptionBreakpointFilters": [{
            "filter": "error",
            "label": "Uncaught script errors",
            "description": "Stop where a script error is raised, before it becomes a ScriptError",
            "default": false,
        }],
    })
}
