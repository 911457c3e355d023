//! A Debug Adapter Protocol client, as an editor is, for the debugger tests.

use serde_json::{Value as Json, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A Debug Adapter Protocol client, as an editor is.
pub struct Dap {
    out: TcpStream,
    input: BufReader<TcpStream>,
    seq: i64,
    /// Events that came while waiting for a response.
    pub events: Vec<Json>,
}

impl Dap {
    pub fn connect(address: SocketAddr) -> Self {
        let out = TcpStream::connect(address).expect("connect to the debugger");
        out.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let input = BufReader::new(out.try_clone().unwrap());
        Self {
            out,
            input,
            seq: 0,
            events: Vec::new(),
        }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.out.write_all(bytes).unwrap();
        self.out.flush().unwrap();
    }

    pub fn send(&mut self, command: &str, arguments: Json) -> i64 {
        self.seq += 1;
        let body =
            json!({"seq": self.seq, "type": "request", "command": command, "arguments": arguments});
        let body = serde_json::to_vec(&body).unwrap();
        let mut message = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
        message.extend(body);
        self.send_raw(&message);
        self.seq
    }

    /// The next message, or `None` when the server closed the connection.
    pub fn read(&mut self) -> Option<Json> {
        let mut length = None;
        loop {
            let mut line = String::new();
            if self.input.read_line(&mut line).ok()? == 0 {
                return None;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(value) = line.strip_prefix("Content-Length:") {
                length = value.trim().parse::<usize>().ok();
            }
        }
        let mut body = vec![0; length?];
        self.input.read_exact(&mut body).ok()?;
        Some(serde_json::from_slice(&body).expect("the server sends JSON"))
    }

    /// Sends a request and returns its response (successful or not).
    pub fn ask(&mut self, command: &str, arguments: Json) -> Json {
        let seq = self.send(command, arguments);
        loop {
            let message = self
                .read()
                .unwrap_or_else(|| panic!("no response to `{command}`"));
            if message["type"] == "response" && message["request_seq"] == seq {
                return message;
            }
            self.events.push(message);
        }
    }

    /// Sends a request that must succeed and returns its body.
    pub fn ok(&mut self, command: &str, arguments: Json) -> Json {
        let response = self.ask(command, arguments);
        assert_eq!(response["success"], true, "`{command}` failed: {response}");
        response["body"].clone()
    }

    /// Waits for the event `name`, skipping others (kept in `events`).
    pub fn event(&mut self, name: &str) -> Json {
        if let Some(i) = self.events.iter().position(|e| e["event"] == name) {
            return self.events.remove(i);
        }
        loop {
            let message = self
                .read()
                .unwrap_or_else(|| panic!("the server closed before the `{name}` event"));
            if message["type"] == "event" && message["event"] == name {
                return message;
            }
            self.events.push(message);
        }
    }

    /// Attaches as an editor does, with breakpoints at `lines` of `path`.
    pub fn attach(&mut self, path: &str, breakpoints: Json) {
        let capabilities = self.ok(
            "initialize",
            json!({"adapterID": "bevy-luau", "linesStartAt1": true}),
        );
        assert_eq!(capabilities["supportsConditionalBreakpoints"], true);
        self.event("initialized");
        self.ok("attach", json!({}));
        self.set_breakpoints(path, breakpoints);
        self.ok("configurationDone", json!({}));
    }

    pub fn set_breakpoints(&mut self, path: &str, breakpoints: Json) -> Json {
        self.ok(
            "setBreakpoints",
            json!({"source": {"path": path}, "breakpoints": breakpoints}),
        )
    }

    pub fn stopped(&mut self) -> Json {
        self.event("stopped")["body"].clone()
    }

    /// Waits for a stop on a VM thread of its own and checks that `threads` lists it under a
    /// name starting with `name` (`actor`, `worker`); returns the thread id.
    pub fn stopped_on_thread(&mut self, name: &str) -> Json {
        let thread = self.stopped()["threadId"].clone();
        assert_ne!(thread, 1, "not the main VM");
        let threads = self.ok("threads", json!({}));
        let listed = threads["threads"].as_array().unwrap();
        let found = listed.iter().find(|t| t["id"] == thread).expect("listed");
        let shown = found["name"].as_str().unwrap();
        assert!(shown.starts_with(name), "{found}");
        thread
    }

    pub fn top_frame(&mut self, thread: &Json) -> Json {
        let trace = self.ok("stackTrace", json!({"threadId": thread}));
        trace["stackFrames"][0].clone()
    }

    /// The variables of the scope named `scope` in frame `frame`, as name → value text.
    pub fn scope(&mut self, frame: &Json, scope: &str) -> Vec<(String, String, i64)> {
        let scopes = self.ok("scopes", json!({"frameId": frame}));
        let reference = scopes["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == scope)
            .unwrap_or_else(|| panic!("no scope `{scope}` in {scopes}"))["variablesReference"]
            .clone();
        self.variables(&reference)
    }

    pub fn variables(&mut self, reference: &Json) -> Vec<(String, String, i64)> {
        let body = self.ok("variables", json!({"variablesReference": reference}));
        body["variables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v["name"].as_str().unwrap().to_owned(),
                    v["value"].as_str().unwrap().to_owned(),
                    v["variablesReference"].as_i64().unwrap(),
                )
            })
            .collect()
    }
}

pub fn value_of<'a>(variables: &'a [(String, String, i64)], name: &str) -> &'a str {
    variables
        .iter()
        .find(|(n, _, _)| n == name)
        .map(|(_, v, _)| v.as_str())
        .unwrap_or_else(|| panic!("no variable `{name}` in {variables:?}"))
}
