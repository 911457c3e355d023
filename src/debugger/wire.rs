//! The Debug Adapter Protocol's framing: a `Content-Length` header, a blank line, and that
//! many bytes of JSON.

use serde_json::Value;
use std::io::{self, BufRead, Read, Write};

/// The largest message a client may send: more is refused and the connection closed.
pub(crate) const MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// Why a message could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WireError {
    /// The client closed the connection between messages.
    #[error("the client closed the connection")]
    Closed,
    /// A header line that is not `Name: value`, or no `Content-Length`: the stream cannot be
    /// followed further.
    #[error("malformed header: {0}")]
    Header(String),
    /// A `Content-Length` that is not a number, or is too large.
    #[error("bad Content-Length: {0}")]
    Length(String),
    /// A body that is not JSON; the next message can still be read.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// The connection failed.
    #[error("{0}")]
    Io(#[from] io::Error),
}

impl WireError {
    /// Whether the next message can still be read after this error.
    pub(crate) fn recoverable(&self) -> bool {
        matches!(self, WireError::Json(_))
    }
}

/// Reads one message.
pub(crate) fn read_message<R: BufRead>(reader: &mut R) -> Result<Value, WireError> {
    let mut length = None;
    let mut line = String::new();
    let mut first = true;
    loop {
        line.clear();
        // A header line is short; a stream without line ends is not a header.
        let read = <&mut R as Read>::take(&mut *reader, 1024).read_line(&mut line)?;
        if read == 0 {
            return Err(if first {
                WireError::Closed
            } else {
                WireError::Header("the connection closed inside a header".into())
            });
        }
        first = false;
        if !line.ends_with('\n') {
            return Err(WireError::Header(format!(
                "a header line longer than 1 KiB: `{}`",
                shown(&line)
            )));
        }
        let header = line.trim_end_matches(['\r', '\n']);
        if header.is_empty() {
            break;
        }
        let Some((name, value)) = header.split_once(':') else {
            return Err(WireError::Header(format!(
                "`{}` is not `Name: value`",
                shown(header)
            )));
        };
        if name.trim().eq_ignore_ascii_case("content-length") {
            let value = value.trim();
            let n = value
                .parse::<usize>()
                .map_err(|e| WireError::Length(format!("`{}`: {e}", shown(value))))?;
            if n > MAX_MESSAGE {
                return Err(WireError::Length(format!(
                    "{n} bytes is more than the {MAX_MESSAGE} a message may have"
                )));
            }
            length = Some(n);
        }
    }
    let length = length.ok_or_else(|| WireError::Header("no Content-Length header".into()))?;
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    serde_json::from_slice(&body).map_err(|e| WireError::Json(e.to_string()))
}

/// Writes one message.
pub(crate) fn write_message(writer: &mut impl Write, message: &Value) -> io::Result<()> {
    let body = serde_json::to_vec(message)?;
    write!(writer, "Content-Length: {}\r\n\r\n", body.len())?;
    writer.write_all(&body)?;
    writer.flush()
}

/// At most 80 characters of `text`, for an error message.
fn shown(text: &str) -> String {
    match text.char_indices().nth(80) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(bytes: &[u8]) -> Result<Value, WireError> {
        read_message(&mut io::BufReader::new(bytes))
    }

    #[test]
    fn a_message_round_trips() {
        let mut out = Vec::new();
        write_message(&mut out, &json!({"seq": 1, "type": "request"})).unwrap();
        assert!(out.starts_with(b"Content-Length: "));
        assert_eq!(read(&out).unwrap()["seq"], 1);
    }

    #[test]
    fn bad_input_gets_a_reason() {
        assert!(matches!(read(b""), Err(WireError::Closed)));
        assert!(matches!(
            read(b"Garbage\r\n\r\n"),
            Err(WireError::Header(_))
        ));
        assert!(matches!(
            read(b"X-Other: 1\r\n\r\n"),
            Err(WireError::Header(_))
        ));
        assert!(matches!(
            read(b"Content-Length: many\r\n\r\n"),
            Err(WireError::Length(_))
        ));
        assert!(matches!(
            read(b"Content-Length: 99999999999\r\n\r\n"),
            Err(WireError::Length(_))
        ));
        let json = read(b"Content-Length: 3\r\n\r\n{x}");
        assert!(matches!(&json, Err(WireError::Json(_))));
        assert!(json.unwrap_err().recoverable());
        assert!(matches!(
            read(b"Content-Length: 10\r\n\r\n{}"),
            Err(WireError::Io(_))
        ));
        assert!(matches!(read(&[b'x'; 4096]), Err(WireError::Header(_))));
    }
}
