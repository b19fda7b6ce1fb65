//! Reading a node's local API: newline-delimited JSON [`Update`]s from any byte stream (a TCP
//! connection to 127.0.0.1, a pipe, a recorded file) into the dashboard's event channel.
//!
//! Data flow: [`connect`] dials the node, reports [`UiEvent::Connected`], runs [`pump`] until
//! the stream ends, reports [`UiEvent::Disconnected`] and dials again with back-off, until the
//! dashboard drops its receiver. [`pump`] skips (and reports) a malformed or oversized line
//! instead of dropping the connection: one bad message should not blank the screen.

use std::io::{BufRead, Read};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::Error;
use crate::app::UiEvent;
use crate::model::Update;

/// Longest line accepted (bytes): a snapshot of dozens of nodes with 512-bin spectra is a few
/// hundred kilobytes.
pub const MAX_LINE: usize = 8 << 20;

/// Parses one line of the local API.
///
/// # Errors
/// [`Error::Json`] if the line is not a valid [`Update`] (naming the source, line number and
/// column).
pub fn parse_update(source: &str, line_no: u64, line: &[u8]) -> Result<Update, Error> {
    serde_json::from_slice(line).map_err(|e| Error::Json {
        source_name: source.to_owned(),
        line: line_no,
        column: e.column(),
        source: e,
    })
}

/// Reads `reader` to its end, sending each [`Update`] as a [`UiEvent`]; blank lines are
/// ignored, malformed and oversized lines are skipped with a [`UiEvent::Notice`]. Returns the
/// number of updates sent, or early (Ok) when the receiver is gone.
///
/// # Errors
/// [`Error::Read`] if reading fails (naming the source and line).
pub fn pump<R: BufRead>(source: &str, mut reader: R, tx: &Sender<UiEvent>) -> Result<u64, Error> {
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    let mut sent = 0u64;
    loop {
        buf.clear();
        line_no += 1;
        let limit = u64::try_from(MAX_LINE + 1).unwrap_or(u64::MAX);
        let n = (&mut reader)
            .take(limit)
            .read_until(b'\n', &mut buf)
            .map_err(|e| Error::Read {
                source_name: source.to_owned(),
                line: line_no,
                source: e,
            })?;
        if n == 0 {
            return Ok(sent);
        }
        if buf.len() > MAX_LINE && buf.last() != Some(&b'\n') {
            skip_line(&mut reader).map_err(|e| Error::Read {
                source_name: source.to_owned(),
                line: line_no,
                source: e,
            })?;
            let err = Error::LineTooLong {
                source_name: source.to_owned(),
                line: line_no,
                limit: MAX_LINE,
            };
            if tx.send(UiEvent::Notice(err.to_string())).is_err() {
                return Ok(sent);
            }
            continue;
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let (ev, is_update) = match parse_update(source, line_no, &buf) {
            Ok(u) => (UiEvent::from(u), true),
            Err(e) => (UiEvent::Notice(e.to_string()), false),
        };
        if tx.send(ev).is_err() {
            return Ok(sent);
        }
        sent += u64::from(is_update);
    }
}

/// Discards the rest of the current line.
fn skip_line<R: BufRead>(reader: &mut R) -> std::io::Result<()> {
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(());
        }
        if let Some(i) = chunk.iter().position(|&b| b == b'\n') {
            reader.consume(i + 1);
            return Ok(());
        }
        let len = chunk.len();
        reader.consume(len);
    }
}

/// Dials `addr` (the node's local API) in a thread and streams its updates into `tx`,
/// reconnecting with back-off (0.5 s doubling to 10 s) after a failure or the end of the
/// stream. The thread ends once the dashboard has dropped its receiver.
pub fn connect(addr: SocketAddr, tx: Sender<UiEvent>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let name = addr.to_string();
        let mut backoff = Duration::from_millis(500);
        loop {
            let reason = match TcpStream::connect_timeout(&addr, Duration::from_secs(3)) {
                Ok(stream) => {
                    backoff = Duration::from_millis(500);
                    if tx.send(UiEvent::Connected(name.clone())).is_err() {
                        return;
                    }
                    match pump(&name, std::io::BufReader::new(stream), &tx) {
                        Ok(_) => format!("{name} closed the connection"),
                        Err(e) => e.to_string(),
                    }
                }
                Err(e) => format!("{name}: {e}"),
            };
            let retry = format!("{reason}; retry in {:.1} s", backoff.as_secs_f32());
            if tx.send(UiEvent::Disconnected(retry)).is_err() {
                return;
            }
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LogLine, Snapshot};
    use std::sync::mpsc;

    #[test]
    fn pump_sends_updates_and_skips_bad_lines() {
        let snap = Update::Snapshot(Box::new(Snapshot {
            at_ms: 5,
            node: "n1".into(),
            ..Snapshot::default()
        }));
        let log = Update::Log {
            lines: vec![LogLine {
                seq: 1,
                at_ms: 5,
                level: crate::model::Level::Info,
                text: "hello".into(),
            }],
        };
        let mut input = serde_json::to_string(&snap).unwrap();
        input.push('\n');
        input.push_str("\n{not json}\n");
        input.push_str(&serde_json::to_string(&log).unwrap());
        // No trailing newline on the last line: still read.
        let (tx, rx) = mpsc::channel();
        let n = pump("test", input.as_bytes(), &tx).unwrap();
        assert_eq!(n, 2);
        drop(tx);
        let evs: Vec<UiEvent> = rx.iter().collect();
        assert_eq!(evs.len(), 3);
        assert_eq!(evs[0], UiEvent::from(snap));
        let UiEvent::Notice(msg) = &evs[1] else {
            panic!("{:?}", evs[1])
        };
        assert!(msg.contains("test") && msg.contains("line 3"), "{msg}");
        assert_eq!(evs[2], UiEvent::from(log));
    }

    #[test]
    fn parse_errors_name_source_line_and_column() {
        let e = parse_update("127.0.0.1:7040", 12, br#"{"type":"rows","node":5}"#).unwrap_err();
        let Error::Json {
            source_name, line, ..
        } = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!(source_name, "127.0.0.1:7040");
        assert_eq!(*line, 12);
        assert!(e.to_string().contains("invalid type"), "{e}");
        // A syntax error has a position.
        let e = parse_update("s", 3, br#"{"type":"log","lines":[}"#).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Json {
                    line: 3,
                    column: 24,
                    ..
                }
            ),
            "{e:?}"
        );
        // Unknown message type.
        assert!(matches!(
            parse_update("s", 1, br#"{"type":"nope"}"#),
            Err(Error::Json { .. })
        ));
    }

    #[test]
    fn oversized_line_is_skipped_and_the_next_one_read() {
        let mut input = vec![b'x'; MAX_LINE + 10];
        input.push(b'\n');
        input.extend_from_slice(br#"{"type":"log","lines":[]}"#);
        input.push(b'\n');
        let (tx, rx) = mpsc::channel();
        let n = pump("big", &input[..], &tx).unwrap();
        assert_eq!(n, 1);
        drop(tx);
        let evs: Vec<UiEvent> = rx.iter().collect();
        assert!(matches!(&evs[0], UiEvent::Notice(m) if m.contains("longer than")));
        assert_eq!(evs[1], UiEvent::Log(vec![]));
    }

    #[test]
    fn pump_stops_when_the_dashboard_is_gone() {
        let (tx, rx) = mpsc::channel();
        drop(rx);
        let input = b"{\"type\":\"log\",\"lines\":[]}\n{\"type\":\"log\",\"lines\":[]}\n";
        assert_eq!(pump("s", &input[..], &tx).unwrap(), 0);
    }

    #[test]
    fn connect_streams_from_a_local_listener_and_reports_the_end() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            use std::io::Write;
            let (mut s, _) = listener.accept().unwrap();
            s.write_all(b"{\"type\":\"snapshot\",\"node\":\"n9\"}\n")
                .unwrap();
        });
        let (tx, rx) = mpsc::channel();
        let _client = connect(addr, tx);
        let first = rx.recv().unwrap();
        assert_eq!(first, UiEvent::Connected(addr.to_string()));
        let UiEvent::Snapshot(s) = rx.recv().unwrap() else {
            panic!("no snapshot")
        };
        assert_eq!(s.node, "n9");
        server.join().unwrap();
        let UiEvent::Disconnected(why) = rx.recv().unwrap() else {
            panic!("no disconnect")
        };
        assert!(why.contains("closed"), "{why}");
        // Dropping the receiver ends the client thread at its next send.
        drop(rx);
    }
}
