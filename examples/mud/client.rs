//! A scripted telnet user: connects over TCP, sends lines and waits for replies. The example's
//! `--demo` mode plays with two of them, and the tests use them to play the game.

use std::io::{self, BufRead, BufReader, ErrorKind, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// How long one expected reply may take.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// One client connection and everything it has received.
pub struct Client {
    /// Who this is, for messages.
    pub name: &'static str,
    /// The connection, for tests that write raw bytes.
    pub stream: TcpStream,
    reader: BufReader<TcpStream>,
    /// Every line received so far.
    pub transcript: String,
    /// Whether to print what is sent and received.
    pub echo: bool,
}

impl Client {
    /// Connects to the server at `addr`.
    pub fn connect(addr: SocketAddr, name: &'static str) -> io::Result<Self> {
        let stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_millis(50)))?;
        let reader = BufReader::new(stream.try_clone()?);
        Ok(Self {
            name,
            stream,
            reader,
            transcript: String::new(),
            echo: false,
        })
    }

    /// Sends one line.
    pub fn send(&mut self, line: &str) -> Result<(), String> {
        if self.echo {
            println!("{:>6} > {line}", self.name);
        }
        self.stream
            .write_all(format!("{line}\r\n").as_bytes())
            .map_err(|e| format!("{}: sending {line:?} failed: {e}", self.name))
    }

    /// Reads until a line contains `needle`; returns the lines read, that one included.
    pub fn expect(&mut self, needle: &str) -> Result<String, String> {
        let start = Instant::now();
        let mut read = String::new();
        let mut line = String::new();
        loop {
            match self.reader.read_line(&mut line) {
                Ok(0) => {
                    return Err(
                        self.failure(&format!("the server hung up while waiting for {needle:?}"))
                    );
                }
                Ok(_) => {
                    if self.echo {
                        println!("{:>6} < {}", self.name, line.trim_end());
                    }
                    self.transcript.push_str(&line);
                    read.push_str(&line);
                    if std::mem::take(&mut line).contains(needle) {
                        return Ok(read);
                    }
                }
                // A partial line stays in `line` until the rest arrives.
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => return Err(self.failure(&format!("reading failed: {e}"))),
            }
            if start.elapsed() > PATIENCE {
                return Err(self.failure(&format!("no {needle:?} in time")));
            }
        }
    }

    /// Waits until the server closes the connection.
    pub fn expect_hangup(&mut self) -> Result<(), String> {
        let start = Instant::now();
        loop {
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) => return Ok(()),
                Ok(_) => self.transcript.push_str(&line),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => return Ok(()),
            }
            if start.elapsed() > PATIENCE {
                return Err(self.failure("still connected"));
            }
        }
    }

    fn failure(&self, what: &str) -> String {
        format!("{}: {what}; it received:\n{}", self.name, self.transcript)
    }
}
