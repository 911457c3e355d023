//! The network side of the MUD: a TCP listener, one reader and one writer thread per client,
//! and the line discipline that turns whatever a client sends into clean text lines.
//!
//! Nothing here knows about the game. The app sees [`NetEvent`]s on one channel and answers
//! through each connection's bounded outbox, so a slow, silent or hostile client can only ever
//! cost its own connection.
//!
//! Connections are let in against a [`Capacity`]: at most `max_clients` at once, of which at
//! most `max_pending` not yet admitted by the app (still logging in). Beyond either, a new
//! connection is told why and closed, so connections that never log in cannot take the seats of
//! players.

use crossbeam_channel::{Receiver, Sender, TrySendError};
use std::io::{self, BufWriter, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The longest line a client may send, in bytes; longer ones are refused whole.
pub const MAX_LINE: usize = 512;
/// Lines a client may send in a burst before it has to slow down.
pub const BURST: f64 = 20.0;
/// Lines per second a client may keep sending.
pub const LINES_PER_SECOND: f64 = 10.0;
/// Lines waiting to be written to one client before it counts as not reading.
pub const OUTBOX: usize = 512;
/// How long one write to a client may take before it counts as gone.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// A client's id, unique for the life of the server.
pub type SessionId = u64;

/// What the network tells the app, in the order it happened.
pub enum NetEvent {
    /// A client connected; `outbox` sends it text.
    Connected { id: SessionId, outbox: Outbox },
    /// A client sent a line.
    Line { id: SessionId, text: String },
    /// A client is gone (it hung up, its socket failed, or the server closed it).
    Closed { id: SessionId },
}

/// What the app sends to one client.
enum Out {
    Text(String),
    Close,
}

/// The sending half of a client's connection, held by the app.
pub struct Outbox {
    sender: Sender<Out>,
    stream: TcpStream,
    seat: Arc<Seat>,
}

impl Outbox {
    /// Queues a line of text. A client whose outbox is full is not reading; it is disconnected
    /// so it cannot hold up the server, and `false` is returned.
    pub fn send(&self, text: impl Into<String>) -> bool {
        match self.sender.try_send(Out::Text(text.into())) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                tracing::warn!(target: "mud", "a client stopped reading; disconnecting it");
                self.kill();
                false
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    /// Closes the connection once everything queued before has been written.
    pub fn close(&self) {
        if self.sender.try_send(Out::Close).is_err() {
            self.kill();
        }
    }

    /// Admits the client: it no longer counts against `max_pending`. Admitting it again does
    /// nothing.
    pub fn admit(&self) {
        self.seat.admit();
    }

    /// Closes the connection now; the reader sees it and reports [`NetEvent::Closed`].
    fn kill(&self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

/// How many clients the listener lets in, and how many are in. The app sets the limits; a
/// change applies to new connections.
#[derive(Default)]
pub struct Capacity {
    /// How many clients may be connected at once.
    pub max_clients: AtomicUsize,
    /// How many of those may be not yet admitted ([`Outbox::admit`]): still logging in.
    pub max_pending: AtomicUsize,
    connected: AtomicUsize,
    pending: AtomicUsize,
}

impl Capacity {
    /// Why a new connection cannot come in now, or `None` when it can.
    fn refusal(&self) -> Option<&'static str> {
        if self.connected.load(Ordering::SeqCst) >= self.max_clients.load(Ordering::SeqCst) {
            Some("The server is full; try again later.")
        } else if self.pending.load(Ordering::SeqCst) >= self.max_pending.load(Ordering::SeqCst) {
            Some("Too many people are logging in right now; try again in a minute.")
        } else {
            None
        }
    }
}

/// One connection's claim on the [`Capacity`]: a seat until both its reader and the app's
/// [`Outbox`] are gone, and a pending seat until the app admits it.
struct Seat {
    capacity: Arc<Capacity>,
    admitted: AtomicBool,
}

impl Seat {
    /// Takes a seat, and a pending one.
    fn take(capacity: &Arc<Capacity>) -> Self {
        capacity.connected.fetch_add(1, Ordering::SeqCst);
        capacity.pending.fetch_add(1, Ordering::SeqCst);
        Self {
            capacity: capacity.clone(),
            admitted: AtomicBool::new(false),
        }
    }

    /// Gives the pending seat back, once.
    fn admit(&self) {
        if !self.admitted.swap(true, Ordering::SeqCst) {
            self.capacity.pending.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.admit();
        self.capacity.connected.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A listening server: its address and the events of its clients.
pub struct Listener {
    /// The address it listens on (with the real port when port 0 was asked for).
    pub addr: SocketAddr,
    /// Events from every client.
    pub events: Receiver<NetEvent>,
    /// How many clients may be connected, and how many of them still logging in.
    pub capacity: Arc<Capacity>,
}

/// Listens on `addr` and serves clients on their own threads: at most `max_clients` at once, of
/// which at most `max_pending` not yet admitted.
pub fn listen(addr: SocketAddr, max_clients: usize, max_pending: usize) -> io::Result<Listener> {
    let listener = TcpListener::bind(addr)?;
    let addr = listener.local_addr()?;
    let (events, receiver) = crossbeam_channel::unbounded();
    let capacity = Arc::new(Capacity {
        max_clients: AtomicUsize::new(max_clients),
        max_pending: AtomicUsize::new(max_pending),
        ..Capacity::default()
    });
    let limits = capacity.clone();
    std::thread::Builder::new()
        .name("mud-accept".into())
        .spawn(move || accept(listener, events, limits))?;
    Ok(Listener {
        addr,
        events: receiver,
        capacity,
    })
}

/// Accepts clients until the app is gone.
fn accept(listener: TcpListener, events: Sender<NetEvent>, capacity: Arc<Capacity>) {
    let mut next_id: SessionId = 0;
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(error) => {
                tracing::warn!(target: "mud", "accept failed: {error}");
                continue;
            }
        };
        if let Some(refusal) = capacity.refusal() {
            let mut stream = stream;
            let _ = stream.write_all(format!("{refusal}\r\n").as_bytes());
            continue;
        }
        next_id += 1;
        match serve(next_id, stream, events.clone(), &capacity) {
            Ok(true) => {}
            // The app is gone; so is the server.
            Ok(false) => return,
            Err(error) => tracing::warn!(target: "mud", "could not serve a client: {error}"),
        }
    }
}

/// Starts the reader and writer threads of one client; `false` when the app is gone.
fn serve(
    id: SessionId,
    stream: TcpStream,
    events: Sender<NetEvent>,
    capacity: &Arc<Capacity>,
) -> io::Result<bool> {
    stream.set_nodelay(true)?;
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let (sender, outgoing) = crossbeam_channel::bounded(OUTBOX);
    let (writer, killer) = (stream.try_clone()?, stream.try_clone()?);
    std::thread::Builder::new()
        .name(format!("mud-write-{id}"))
        .spawn(move || write_loop(writer, outgoing))?;
    // The reader and the app's outbox share the seat; it is given back when both are gone.
    let seat = Arc::new(Seat::take(capacity));
    let outbox = Outbox {
        sender: sender.clone(),
        stream: killer,
        seat: seat.clone(),
    };
    if events.send(NetEvent::Connected { id, outbox }).is_err() {
        return Ok(false);
    }
    std::thread::Builder::new()
        .name(format!("mud-read-{id}"))
        .spawn(move || {
            read_loop(id, stream, &events, &sender);
            drop(seat);
            let _ = events.send(NetEvent::Closed { id });
        })?;
    Ok(true)
}

/// Writes queued text until the app closes the connection or the client is gone.
fn write_loop(stream: TcpStream, outgoing: Receiver<Out>) {
    let mut writer = BufWriter::new(&stream);
    while let Ok(out) = outgoing.recv() {
        let written = match out {
            Out::Text(text) => write_text(&mut writer, &text),
            Out::Close => break,
        };
        // Flush once nothing else is waiting, so a burst of lines goes out together.
        let flushed = if outgoing.is_empty() {
            writer.flush()
        } else {
            Ok(())
        };
        if written.and(flushed).is_err() {
            break;
        }
    }
    let _ = writer.flush();
    let _ = stream.shutdown(Shutdown::Both);
}

/// Writes one message with telnet line endings.
fn write_text(writer: &mut impl Write, text: &str) -> io::Result<()> {
    for line in text.split('\n') {
        writer.write_all(line.trim_end_matches('\r').as_bytes())?;
        writer.write_all(b"\r\n")?;
    }
    Ok(())
}

/// Reads lines from a client until it hangs up, passing on the good ones.
fn read_loop(id: SessionId, mut stream: TcpStream, events: &Sender<NetEvent>, out: &Sender<Out>) {
    let mut lines = LineReader::default();
    let mut limit = RateLimit::new(Instant::now());
    let mut buffer = [0u8; 1024];
    loop {
        let read = match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        for line in lines.feed(&buffer[..read]) {
            let reply = match line {
                Ok(text) if text.is_empty() => continue,
                Ok(text) if limit.allow(Instant::now()) => {
                    if events.send(NetEvent::Line { id, text }).is_err() {
                        return;
                    }
                    continue;
                }
                Ok(_) => "You are typing too fast; that line was ignored.".to_owned(),
                Err(refusal) => refusal.to_string(),
            };
            // A refusal goes straight back to this client; the game never sees the line.
            if out.try_send(Out::Text(reply)).is_err() {
                return;
            }
        }
    }
}

/// Why a line was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// It was longer than [`MAX_LINE`] bytes.
    TooLong,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::TooLong => write!(
                f,
                "That line was too long (over {MAX_LINE} bytes) and was ignored."
            ),
        }
    }
}

/// Where the line discipline is inside a telnet command.
#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum Telnet {
    #[default]
    Text,
    /// After IAC (255).
    Command,
    /// After IAC WILL/WONT/DO/DONT: one option byte follows.
    Option,
    /// Inside a subnegotiation (IAC SB … IAC SE).
    Sub,
    /// After IAC inside a subnegotiation.
    SubCommand,
}

/// Splits a client's bytes into lines: telnet commands are removed, control characters
/// dropped, invalid UTF-8 replaced, and overlong lines refused.
#[derive(Default)]
pub struct LineReader {
    line: Vec<u8>,
    overflowed: bool,
    telnet: Telnet,
}

impl LineReader {
    /// Feeds bytes and returns the lines they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Result<String, Refusal>> {
        const IAC: u8 = 255;
        let mut done = Vec::new();
        for &byte in bytes {
            self.telnet = match (self.telnet, byte) {
                (Telnet::Text, IAC) => Telnet::Command,
                (Telnet::Text, b'\n') => {
                    done.push(self.finish());
                    Telnet::Text
                }
                (Telnet::Text, byte) => {
                    self.push(byte);
                    Telnet::Text
                }
                // IAC IAC is a literal 255, which is not text anyone types.
                (Telnet::Command, IAC) => Telnet::Text,
                (Telnet::Command, 251..=254) => Telnet::Option,
                (Telnet::Command, 250) => Telnet::Sub,
                (Telnet::Command | Telnet::Option, _) => Telnet::Text,
                (Telnet::Sub, IAC) => Telnet::SubCommand,
                (Telnet::Sub, _) => Telnet::Sub,
                (Telnet::SubCommand, 240) => Telnet::Text,
                (Telnet::SubCommand, _) => Telnet::Sub,
            };
        }
        done
    }

    fn push(&mut self, byte: u8) {
        // Control characters (including `\r` and escape sequences' ESC) carry nothing a
        // command needs; tabs become spaces.
        let byte = match byte {
            b'\t' => b' ',
            0..=31 | 127 => return,
            byte => byte,
        };
        if self.line.len() >= MAX_LINE {
            self.overflowed = true;
        } else {
            self.line.push(byte);
        }
    }

    fn finish(&mut self) -> Result<String, Refusal> {
        let line = std::mem::take(&mut self.line);
        if std::mem::take(&mut self.overflowed) {
            return Err(Refusal::TooLong);
        }
        Ok(String::from_utf8_lossy(&line).trim().to_owned())
    }
}

/// A token bucket: [`BURST`] lines at once, then [`LINES_PER_SECOND`].
struct RateLimit {
    tokens: f64,
    last: Instant,
}

impl RateLimit {
    fn new(now: Instant) -> Self {
        Self {
            tokens: BURST,
            last: now,
        }
    }

    fn allow(&mut self, now: Instant) -> bool {
        let refill = now.duration_since(self.last).as_secs_f64() * LINES_PER_SECOND;
        self.tokens = (self.tokens + refill).min(BURST);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_trimmed_and_cleaned() {
        let mut reader = LineReader::default();
        assert_eq!(reader.feed(b"  look \r\nsa"), vec![Ok("look".to_owned())]);
        assert_eq!(
            reader.feed(b"y hi\x1b[A\x07\r\n"),
            vec![Ok("say hi[A".to_owned())]
        );
    }

    #[test]
    fn telnet_negotiation_and_bad_utf8_never_reach_the_game() {
        let mut reader = LineReader::default();
        let bytes = b"\xff\xfb\x01\xff\xfa\x18\x01\xff\xf0go \xc3\x28north\n";
        assert_eq!(reader.feed(bytes), vec![Ok("go \u{fffd}(north".to_owned())]);
    }

    #[test]
    fn an_overlong_line_is_refused_and_the_next_one_reads() {
        let mut reader = LineReader::default();
        let long = vec![b'x'; MAX_LINE * 3];
        assert!(reader.feed(&long).is_empty());
        assert_eq!(
            reader.feed(b"\nlook\n"),
            vec![Err(Refusal::TooLong), Ok("look".to_owned())]
        );
    }

    #[test]
    fn connections_still_logging_in_have_their_own_cap() {
        let capacity = Arc::new(Capacity {
            max_clients: AtomicUsize::new(3),
            max_pending: AtomicUsize::new(1),
            ..Capacity::default()
        });
        let first = Seat::take(&capacity);
        assert!(capacity.refusal().is_some_and(|r| r.contains("logging in")));
        first.admit();
        first.admit();
        assert_eq!(capacity.refusal(), None);
        let second = Seat::take(&capacity);
        second.admit();
        let third = Seat::take(&capacity);
        assert!(capacity.refusal().is_some_and(|r| r.contains("full")));
        // A connection that leaves before logging in gives back both seats.
        drop(third);
        assert_eq!(capacity.refusal(), None);
        drop((first, second));
        assert_eq!(capacity.connected.load(Ordering::SeqCst), 0);
        assert_eq!(capacity.pending.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn the_rate_limit_allows_a_burst_then_refills() {
        let start = Instant::now();
        let mut limit = RateLimit::new(start);
        let allowed = (0..100).filter(|_| limit.allow(start)).count();
        assert_eq!(allowed, BURST as usize);
        assert!(limit.allow(start + Duration::from_millis(200)));
    }
}
