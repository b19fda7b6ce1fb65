//! The local API's line protocol on hostile bytes: every line goes through the server's
//! request parser and the client's reply and stream-line parsers.
//!
//! Nothing may panic. A line that parses is written back with the protocol's own writer
//! (`Request::to_line`, `Reply::to_line`, `ErrorReply::to_line`, `DroppedNotice::to_line`,
//! events as serde JSON) and must parse to the same value: what a node sends, its peer reads.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trustband::api::protocol::{
    MAX_REQUEST_LINE, StreamLine, parse_reply, parse_request, parse_stream_line,
};

fn stream_line_again(line: &StreamLine) -> String {
    match line {
        StreamLine::Event(event) => {
            serde_json::to_string(event).unwrap_or_else(|e| panic!("event not serialisable: {e}"))
        }
        StreamLine::Dropped(notice) => notice.to_line(),
        StreamLine::Reply(reply) => reply.to_line(),
        StreamLine::Error(error) => error.to_line(),
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() > MAX_REQUEST_LINE {
        return;
    }
    match parse_request(data) {
        Ok((id, request)) => {
            let line = request.to_line(id.as_ref());
            assert_eq!(
                parse_request(line.as_bytes()),
                Ok((id, request)),
                "request written as {line}"
            );
        }
        Err(error) => {
            // The error answer itself must be a valid answer line.
            let line = error.to_line();
            assert_eq!(
                parse_reply(line.as_bytes()).ok(),
                Some(Err(error)),
                "error written as {line}"
            );
        }
    }
    match parse_reply(data) {
        Ok(Ok(reply)) => {
            let line = reply.to_line();
            assert_eq!(
                parse_reply(line.as_bytes()).ok(),
                Some(Ok(reply)),
                "reply written as {line}"
            );
        }
        Ok(Err(error)) => {
            let line = error.to_line();
            assert_eq!(
                parse_reply(line.as_bytes()).ok(),
                Some(Err(error)),
                "error written as {line}"
            );
        }
        Err(_) => {}
    }
    if let Ok(line) = parse_stream_line(data) {
        let again = stream_line_again(&line);
        assert_eq!(
            parse_stream_line(again.as_bytes()).ok(),
            Some(line),
            "stream line written as {again}"
        );
    }
});
