//! The local API's wire format: one JSON object per line, in both directions.
//!
//! Data flow: a client writes a request line (`{"op":"status"}`); [`parse_request`] turns it
//! into a [`Request`] or an [`ErrorReply`] (with a JSON-RPC style [`code`]); the server answers
//! with exactly one line, a [`Reply`] (`{"status":{...}}`) or an error
//! (`{"error":"...","code":-32602}`), echoing the request's optional `id`. After a `subscribe`
//! the server also writes [`StreamLine`]s: [`NodeEvent`]s (`{"type":"block",...}`) and, after a
//! slow reader lost some, a [`DroppedNotice`] (`{"type":"dropped",...}`). docs/api.md is the
//! user-facing description with examples.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tui::model::amount_text;
use tui::{Snapshot, model::BlockRow};

use crate::node::events::{NodeEvent, NodeStatus};

/// Longest request line accepted (bytes, newline excluded). Requests are tiny; anything longer
/// is answered with [`code::INVALID_REQUEST`] and skipped.
pub const MAX_REQUEST_LINE: usize = 64 * 1024;

/// Most blocks a `blocks` query returns.
pub const MAX_BLOCKS: usize = 256;

/// Error codes, after JSON-RPC 2.0 where one fits.
pub mod code {
    /// The line is not JSON.
    pub const PARSE_ERROR: i64 = -32700;
    /// JSON, but not a request object (not an object, no `op`, too long).
    pub const INVALID_REQUEST: i64 = -32600;
    /// `op` names no operation.
    pub const UNKNOWN_OP: i64 = -32601;
    /// The operation's parameters are wrong (unknown topic, unknown field, bad type).
    pub const INVALID_PARAMS: i64 = -32602;
    /// The account (or other object) asked for does not exist.
    pub const NOT_FOUND: i64 = -32001;
    /// The node could not answer (shutting down, internal error).
    pub const UNAVAILABLE: i64 = -32002;
    /// The server has no room for another connection.
    pub const BUSY: i64 = -32003;
}

/// What a subscription can carry: the [`NodeEvent`] kinds, by their `type` tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    /// [`NodeEvent::Psd`] (decimated per node, see `psd_hz`).
    Psd,
    /// [`NodeEvent::Decision`].
    Decision,
    /// [`NodeEvent::Block`].
    Block,
    /// [`NodeEvent::Contract`].
    Contract,
    /// [`NodeEvent::Trust`].
    Trust,
    /// [`NodeEvent::Log`].
    Log,
}

impl Topic {
    /// Every topic.
    pub const ALL: [Topic; 6] = [
        Topic::Psd,
        Topic::Decision,
        Topic::Block,
        Topic::Contract,
        Topic::Trust,
        Topic::Log,
    ];

    /// The topic an event belongs to.
    pub fn of(event: &NodeEvent) -> Topic {
        match event {
            NodeEvent::Psd { .. } => Topic::Psd,
            NodeEvent::Decision { .. } => Topic::Decision,
            NodeEvent::Block { .. } => Topic::Block,
            NodeEvent::Contract { .. } => Topic::Contract,
            NodeEvent::Trust { .. } => Topic::Trust,
            NodeEvent::Log { .. } => Topic::Log,
        }
    }
}

/// Parameters of `subscribe`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscribeParams {
    /// Topics wanted; all when absent. An empty list is an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topics: Option<Vec<Topic>>,
    /// PSD frames per second per node at most; the server's default when absent, clamped to
    /// its maximum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psd_hz: Option<f64>,
}

/// An account, by name or by address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountRef {
    /// The node's name for it (lab config, scenario).
    Name(String),
    /// Its address, `0x` + 40 hex digits.
    Address(String),
}

impl std::fmt::Display for AccountRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AccountRef::Name(n) => write!(f, "name {n:?}"),
            AccountRef::Address(a) => write!(f, "address {a}"),
        }
    }
}

/// A state query (`{"op":"query","what":...}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// One account's balance, nonce and trust.
    Account(AccountRef),
    /// Height, head hash and state root.
    Head,
    /// The latest blocks of the node's best chain, newest first, at most this many.
    Blocks {
        /// Most blocks wanted (capped at [`MAX_BLOCKS`]).
        limit: usize,
    },
}

/// A request.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// `{"op":"status"}`: the node's [`NodeStatus`].
    Status,
    /// `{"op":"subscribe",...}`: stream events from now on.
    Subscribe(SubscribeParams),
    /// `{"op":"query","what":...}`: a piece of state.
    Query(Query),
    /// `{"op":"snapshot"}`: the dashboard's aggregated [`Snapshot`].
    Snapshot,
}

impl Request {
    /// The operation's name on the wire.
    pub fn op(&self) -> &'static str {
        match self {
            Request::Status => "status",
            Request::Subscribe(_) => "subscribe",
            Request::Query(_) => "query",
            Request::Snapshot => "snapshot",
        }
    }

    /// The request as one JSON line (no newline), with `id` when given.
    pub fn to_line(&self, id: Option<&Value>) -> String {
        let mut obj = Map::new();
        obj.insert("op".into(), Value::from(self.op()));
        match self {
            Request::Status | Request::Snapshot => {}
            Request::Subscribe(p) => {
                if let Some(topics) = &p.topics {
                    let names: Vec<Value> = topics
                        .iter()
                        .filter_map(|t| serde_json::to_value(t).ok())
                        .collect();
                    obj.insert("topics".into(), Value::Array(names));
                }
                if let Some(hz) = p.psd_hz {
                    obj.insert("psd_hz".into(), Value::from(hz));
                }
            }
            Request::Query(q) => match q {
                Query::Account(who) => {
                    obj.insert("what".into(), Value::from("account"));
                    match who {
                        AccountRef::Name(n) => obj.insert("name".into(), Value::from(n.as_str())),
                        AccountRef::Address(a) => {
                            obj.insert("address".into(), Value::from(a.as_str()))
                        }
                    };
                }
                Query::Head => {
                    obj.insert("what".into(), Value::from("head"));
                }
                Query::Blocks { limit } => {
                    obj.insert("what".into(), Value::from("blocks"));
                    obj.insert("limit".into(), Value::from(*limit));
                }
            },
        }
        if let Some(id) = id {
            obj.insert("id".into(), id.clone());
        }
        Value::Object(obj).to_string()
    }
}

/// An error answer: `{"error":"...","code":-32602}` (plus `id` when the request had one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorReply {
    /// What went wrong, for people.
    pub error: String,
    /// One of [`code`].
    pub code: i64,
    /// The request's `id`, echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Value>,
}

impl ErrorReply {
    /// An error without `id`.
    pub fn new(code: i64, error: impl Into<String>) -> ErrorReply {
        ErrorReply {
            error: error.into(),
            code,
            id: None,
        }
    }

    /// The error as one JSON line (no newline).
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| {
            format!(r#"{{"error":"unserialisable error","code":{}}}"#, self.code)
        })
    }
}

/// Answer to `subscribe`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscribed {
    /// Topics that will be streamed.
    pub topics: Vec<Topic>,
    /// PSD frames per second per node at most.
    pub psd_hz: f64,
    /// Lines the server queues for this connection before it drops events.
    pub queue: usize,
}

/// Answer to an `account` query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountInfo {
    /// The node's name for the account, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Address, `0x` + hex.
    pub address: String,
    /// Sharecoin balance, base units (a decimal string in JSON).
    #[serde(with = "amount_text")]
    pub balance: u128,
    /// Transactions sent.
    pub nonce: u64,
    /// Trust in [0, 1].
    pub trust: f64,
}

/// Answer to a `head` query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadInfo {
    /// Best-chain height.
    pub height: u64,
    /// Head hash, 0x-hex.
    pub hash: String,
    /// State root at the head, 0x-hex.
    pub state_root: String,
}

/// A successful answer.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplyBody {
    /// `{"status":{...}}`.
    Status(NodeStatus),
    /// `{"subscribed":{...}}`.
    Subscribed(Subscribed),
    /// `{"account":{...}}`.
    Account(AccountInfo),
    /// `{"head":{...}}`.
    Head(HeadInfo),
    /// `{"blocks":[...]}`, newest first.
    Blocks(Vec<BlockRow>),
    /// `{"snapshot":{...}}`.
    Snapshot(Box<Snapshot>),
}

/// A successful answer with the request's `id`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The request's `id`, echoed.
    pub id: Option<Value>,
    /// The answer.
    pub body: ReplyBody,
}

/// The wire shape of [`Reply`]: exactly one of the optional fields is present. Deserialised
/// straight from the bytes (not through `Value`), so `u128` amounts survive.
#[derive(Debug, Default, Serialize, Deserialize)]
struct ReplyWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<NodeStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subscribed: Option<Subscribed>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    account: Option<AccountInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    head: Option<HeadInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    blocks: Option<Vec<BlockRow>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    snapshot: Option<Box<Snapshot>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code: Option<i64>,
}

impl Reply {
    /// The reply as one JSON line (no newline).
    pub fn to_line(&self) -> String {
        let mut w = ReplyWire {
            id: self.id.clone(),
            ..ReplyWire::default()
        };
        match &self.body {
            ReplyBody::Status(s) => w.status = Some(s.clone()),
            ReplyBody::Subscribed(s) => w.subscribed = Some(s.clone()),
            ReplyBody::Account(a) => w.account = Some(a.clone()),
            ReplyBody::Head(h) => w.head = Some(h.clone()),
            ReplyBody::Blocks(b) => w.blocks = Some(b.clone()),
            ReplyBody::Snapshot(s) => w.snapshot = Some(s.clone()),
        }
        serde_json::to_string(&w).unwrap_or_else(|e| {
            ErrorReply::new(code::UNAVAILABLE, format!("reply not serialisable: {e}")).to_line()
        })
    }
}

/// Parses one answer line: a [`Reply`], or the server's [`ErrorReply`] as `Err`.
///
/// # Errors
/// `Ok(Err(..))` for an error answer; `Err` if the line is not a valid answer at all.
pub fn parse_reply(line: &[u8]) -> Result<Result<Reply, ErrorReply>, serde_json::Error> {
    let w: ReplyWire = serde_json::from_slice(line)?;
    if let Some(error) = w.error {
        return Ok(Err(ErrorReply {
            error,
            code: w.code.unwrap_or(code::UNAVAILABLE),
            id: w.id,
        }));
    }
    let body = if let Some(s) = w.status {
        ReplyBody::Status(s)
    } else if let Some(s) = w.subscribed {
        ReplyBody::Subscribed(s)
    } else if let Some(a) = w.account {
        ReplyBody::Account(a)
    } else if let Some(h) = w.head {
        ReplyBody::Head(h)
    } else if let Some(b) = w.blocks {
        ReplyBody::Blocks(b)
    } else if let Some(s) = w.snapshot {
        ReplyBody::Snapshot(s)
    } else {
        return Err(serde::de::Error::custom(
            "neither an answer (status, subscribed, account, head, blocks, snapshot) nor an error",
        ));
    };
    Ok(Ok(Reply { id: w.id, body }))
}

/// Sent on a subscription, before the next event, after events were lost because this
/// connection read too slowly: `{"type":"dropped","dropped":12,"total":40}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DroppedNotice {
    /// Always `dropped`.
    #[serde(rename = "type")]
    pub kind: DroppedTag,
    /// Events lost since the previous notice.
    pub dropped: u64,
    /// Events lost since the subscription started.
    pub total: u64,
}

/// The `type` tag of a [`DroppedNotice`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DroppedTag {
    /// `"dropped"`.
    Dropped,
}

impl DroppedNotice {
    /// A notice.
    pub fn new(dropped: u64, total: u64) -> DroppedNotice {
        DroppedNotice {
            kind: DroppedTag::Dropped,
            dropped,
            total,
        }
    }

    /// The notice as one JSON line (no newline).
    pub fn to_line(&self) -> String {
        format!(
            r#"{{"type":"dropped","dropped":{},"total":{}}}"#,
            self.dropped, self.total
        )
    }
}

/// One line received on a subscribed connection.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamLine {
    /// A node event.
    Event(Box<NodeEvent>),
    /// Events were lost.
    Dropped(DroppedNotice),
    /// The answer to a request sent on the same connection.
    Reply(Reply),
    /// An error answer to a request sent on the same connection.
    Error(ErrorReply),
}

#[derive(Deserialize)]
struct TypeProbe {
    #[serde(rename = "type", default)]
    kind: Option<String>,
}

/// Parses one line of a subscribed connection.
///
/// # Errors
/// The parser's error if the line is none of [`StreamLine`]'s kinds.
pub fn parse_stream_line(line: &[u8]) -> Result<StreamLine, serde_json::Error> {
    let probe: TypeProbe = serde_json::from_slice(line)?;
    match probe.kind.as_deref() {
        Some("dropped") => serde_json::from_slice(line).map(StreamLine::Dropped),
        Some(_) => serde_json::from_slice(line).map(|e| StreamLine::Event(Box::new(e))),
        None => parse_reply(line).map(|r| match r {
            Ok(reply) => StreamLine::Reply(reply),
            Err(e) => StreamLine::Error(e),
        }),
    }
}

/// Parses one request line. On failure the [`ErrorReply`] carries the request's `id` when one
/// could be read.
///
/// # Errors
/// [`code::PARSE_ERROR`] (not JSON), [`code::INVALID_REQUEST`] (not an object, no string
/// `op`), [`code::UNKNOWN_OP`], [`code::INVALID_PARAMS`] (unknown field, unknown topic, wrong
/// type, contradictory account reference).
pub fn parse_request(line: &[u8]) -> Result<(Option<Value>, Request), ErrorReply> {
    let value: Value = serde_json::from_slice(line)
        .map_err(|e| ErrorReply::new(code::PARSE_ERROR, format!("not JSON: {e}")))?;
    let Value::Object(mut obj) = value else {
        return Err(ErrorReply::new(
            code::INVALID_REQUEST,
            "a request is a JSON object with an \"op\" field",
        ));
    };
    let id = obj.remove("id");
    let with_id = |mut e: ErrorReply| {
        e.id.clone_from(&id);
        e
    };
    let op = match obj.remove("op") {
        Some(Value::String(op)) => op,
        Some(_) => {
            return Err(with_id(ErrorReply::new(
                code::INVALID_REQUEST,
                "\"op\" must be a string",
            )));
        }
        None => {
            return Err(with_id(ErrorReply::new(
                code::INVALID_REQUEST,
                "missing \"op\" (one of status, subscribe, query, snapshot)",
            )));
        }
    };
    let params = Value::Object(obj);
    let request = match op.as_str() {
        "status" => no_params(&op, &params).map(|()| Request::Status),
        "snapshot" => no_params(&op, &params).map(|()| Request::Snapshot),
        "subscribe" => parse_subscribe(params),
        "query" => parse_query(params).map(Request::Query),
        other => Err(ErrorReply::new(
            code::UNKNOWN_OP,
            format!("unknown op {other:?} (expected status, subscribe, query or snapshot)"),
        )),
    };
    request.map(|r| (id.clone(), r)).map_err(with_id)
}

fn no_params(op: &str, params: &Value) -> Result<(), ErrorReply> {
    match params.as_object().and_then(|o| o.keys().next()) {
        Some(key) => Err(ErrorReply::new(
            code::INVALID_PARAMS,
            format!("{op}: unknown field {key:?}"),
        )),
        None => Ok(()),
    }
}

fn parse_subscribe(params: Value) -> Result<Request, ErrorReply> {
    let p: SubscribeParams = serde_json::from_value(params)
        .map_err(|e| ErrorReply::new(code::INVALID_PARAMS, format!("subscribe: {e}")))?;
    if p.topics.as_ref().is_some_and(Vec::is_empty) {
        return Err(ErrorReply::new(
            code::INVALID_PARAMS,
            "subscribe: \"topics\" is empty (omit it for all topics)",
        ));
    }
    if let Some(hz) = p.psd_hz
        && !(hz.is_finite() && hz > 0.0)
    {
        return Err(ErrorReply::new(
            code::INVALID_PARAMS,
            format!("subscribe: \"psd_hz\" must be a positive number, got {hz}"),
        ));
    }
    Ok(Request::Subscribe(p))
}

#[derive(Deserialize)]
#[serde(tag = "what", rename_all = "snake_case", deny_unknown_fields)]
enum QueryWire {
    Account {
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        address: Option<String>,
    },
    // A struct variant (not a unit one) so that unknown fields are rejected.
    Head {},
    Blocks {
        #[serde(default)]
        limit: Option<usize>,
    },
}

fn parse_query(params: Value) -> Result<Query, ErrorReply> {
    let q: QueryWire = serde_json::from_value(params).map_err(|e| {
        ErrorReply::new(
            code::INVALID_PARAMS,
            format!("query: {e} (\"what\" is one of account, head, blocks)"),
        )
    })?;
    match q {
        QueryWire::Account {
            name: Some(n),
            address: None,
        } => Ok(Query::Account(AccountRef::Name(n))),
        QueryWire::Account {
            name: None,
            address: Some(a),
        } => Ok(Query::Account(AccountRef::Address(a))),
        QueryWire::Account { .. } => Err(ErrorReply::new(
            code::INVALID_PARAMS,
            "query account: give exactly one of \"name\" and \"address\"",
        )),
        QueryWire::Head {} => Ok(Query::Head),
        QueryWire::Blocks { limit } => Ok(Query::Blocks {
            limit: limit.unwrap_or(16).min(MAX_BLOCKS),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<(Option<Value>, Request), ErrorReply> {
        parse_request(s.as_bytes())
    }

    #[test]
    fn requests_round_trip_through_their_lines() {
        let cases = [
            Request::Status,
            Request::Snapshot,
            Request::Subscribe(SubscribeParams::default()),
            Request::Subscribe(SubscribeParams {
                topics: Some(vec![Topic::Psd, Topic::Block]),
                psd_hz: Some(2.5),
            }),
            Request::Query(Query::Head),
            Request::Query(Query::Blocks { limit: 5 }),
            Request::Query(Query::Account(AccountRef::Name("n1".into()))),
            Request::Query(Query::Account(AccountRef::Address("0xab".into()))),
        ];
        for r in cases {
            let id = Value::from(7);
            let line = r.to_line(Some(&id));
            let (got_id, got) = parse(&line).unwrap();
            assert_eq!(got, r, "{line}");
            assert_eq!(got_id, Some(id));
        }
    }

    #[test]
    fn malformed_requests_get_the_right_codes() {
        let code_of = |s: &str| parse(s).unwrap_err().code;
        assert_eq!(code_of("{nope"), code::PARSE_ERROR);
        assert_eq!(code_of("[1,2]"), code::INVALID_REQUEST);
        assert_eq!(code_of(r#"{"id":1}"#), code::INVALID_REQUEST);
        assert_eq!(code_of(r#"{"op":3}"#), code::INVALID_REQUEST);
        assert_eq!(code_of(r#"{"op":"fly"}"#), code::UNKNOWN_OP);
        assert_eq!(code_of(r#"{"op":"status","x":1}"#), code::INVALID_PARAMS);
        assert_eq!(
            code_of(r#"{"op":"subscribe","topics":["radio"]}"#),
            code::INVALID_PARAMS
        );
        assert_eq!(
            code_of(r#"{"op":"subscribe","topics":[]}"#),
            code::INVALID_PARAMS
        );
        assert_eq!(
            code_of(r#"{"op":"subscribe","psd_hz":0}"#),
            code::INVALID_PARAMS
        );
        assert_eq!(
            code_of(r#"{"op":"subscribe","topix":["psd"]}"#),
            code::INVALID_PARAMS
        );
        assert_eq!(code_of(r#"{"op":"query"}"#), code::INVALID_PARAMS);
        assert_eq!(
            code_of(r#"{"op":"query","what":"moon"}"#),
            code::INVALID_PARAMS
        );
        assert_eq!(
            code_of(r#"{"op":"query","what":"account","name":"a","address":"0x1"}"#),
            code::INVALID_PARAMS
        );
        assert_eq!(
            code_of(r#"{"op":"query","what":"head","x":1}"#),
            code::INVALID_PARAMS
        );
        // The id is echoed even when the request is wrong.
        let e = parse(r#"{"op":"fly","id":"abc"}"#).unwrap_err();
        assert_eq!(e.id, Some(Value::from("abc")));
        assert!(e.error.contains("fly"), "{}", e.error);
        // Blocks limit is capped.
        let (_, r) = parse(r#"{"op":"query","what":"blocks","limit":100000}"#).unwrap();
        assert_eq!(r, Request::Query(Query::Blocks { limit: MAX_BLOCKS }));
    }

    #[test]
    fn replies_round_trip_and_keep_u128_amounts() {
        let reply = Reply {
            id: Some(Value::from("q1")),
            body: ReplyBody::Account(AccountInfo {
                name: Some("mo-a".into()),
                address: "0x01".into(),
                balance: u128::MAX,
                nonce: 3,
                trust: 0.25,
            }),
        };
        let line = reply.to_line();
        assert!(line.contains(r#""account":{"#), "{line}");
        assert_eq!(parse_reply(line.as_bytes()).unwrap().unwrap(), reply);
        let err = ErrorReply::new(code::NOT_FOUND, "no account");
        let line = err.to_line();
        assert_eq!(line, r#"{"error":"no account","code":-32001}"#);
        assert_eq!(parse_reply(line.as_bytes()).unwrap().unwrap_err(), err);
        assert!(parse_reply(br#"{"id":1}"#).is_err());
    }

    #[test]
    fn stream_lines_are_told_apart() {
        let ev = NodeEvent::Log {
            node: "n1".into(),
            at_ms: 5,
            level: "info".into(),
            text: "hi".into(),
        };
        let line = serde_json::to_string(&ev).unwrap();
        assert_eq!(
            parse_stream_line(line.as_bytes()).unwrap(),
            StreamLine::Event(Box::new(ev))
        );
        let d = DroppedNotice::new(3, 10);
        assert_eq!(
            parse_stream_line(d.to_line().as_bytes()).unwrap(),
            StreamLine::Dropped(d)
        );
        let e = ErrorReply::new(code::PARSE_ERROR, "x");
        assert_eq!(
            parse_stream_line(e.to_line().as_bytes()).unwrap(),
            StreamLine::Error(e)
        );
        assert!(parse_stream_line(br#"{"type":"nope"}"#).is_err());
    }
}
