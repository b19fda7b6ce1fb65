//! The chain crate's one error type.
//!
//! Every fallible operation in `chain` (decoding keys, signatures and the canonical encoding,
//! verifying account and ring signatures, opening commitments, applying transactions and blocks,
//! fork choice, storage) returns [`Error`]. Variants carry structured fields naming the field,
//! index, expected and received values, so a contract can reject a transaction with a precise
//! reason, `trustband chain verify` can say what is corrupt, and tests can assert the exact
//! failure. The enum is `Clone + Eq` (engine errors are kept as their message), so a block tree
//! can remember why a block was refused.

/// Errors of the chain crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A byte string had the wrong length for the value being decoded.
    #[error("{field}: wrong length, expected {expected} bytes, got {got}")]
    WrongLength {
        /// What was being decoded.
        field: &'static str,
        /// Expected length in bytes (for variable-size values, the nearest valid length).
        expected: usize,
        /// Length received.
        got: usize,
    },

    /// A text or binary encoding was malformed (bad hex, bad prefix, ...).
    #[error("{field}: invalid encoding: {reason}")]
    InvalidEncoding {
        /// What was being decoded.
        field: &'static str,
        /// Why it was rejected.
        reason: &'static str,
    },

    /// Bytes did not decode to a point on secp256k1.
    #[error("{field}[{index}]: not a valid compressed secp256k1 point")]
    InvalidPoint {
        /// What was being decoded (`"public_key"`, `"ring"`, `"key_image"`).
        field: &'static str,
        /// Position within a list (0 for single values).
        index: usize,
    },

    /// A point decoded to the group identity, which no key or key image may be.
    #[error("{field}[{index}]: identity point not allowed")]
    IdentityPoint {
        /// What was being decoded.
        field: &'static str,
        /// Position within a list (0 for single values).
        index: usize,
    },

    /// A scalar's encoding was not the canonical one (value >= group order, or a high-S ECDSA
    /// signature, which would make signatures malleable).
    #[error("{field}[{index}]: non-canonical scalar")]
    NonCanonicalScalar {
        /// Which scalar (`"c0"`, `"responses"`, `"signature.r"`, `"signature.s"`).
        field: &'static str,
        /// Position within a list (0 for single values).
        index: usize,
    },

    /// Secret key bytes were zero or not below the group order.
    #[error("secret key: value is zero or not below the group order")]
    InvalidSecretKey,

    /// The signature backend refused to sign (not expected for valid keys and digests).
    #[error("{scheme} signing failed")]
    SigningFailed {
        /// Signature scheme.
        scheme: &'static str,
    },

    /// An account (ECDSA) signature did not verify for this key, domain and message.
    #[error("account signature does not verify for domain {domain}")]
    BadSignature {
        /// Domain tag the verification was performed under.
        domain: &'static str,
    },

    /// A ring had no members.
    #[error("ring is empty")]
    EmptyRing,

    /// A ring had fewer members than the minimum (a ring of one hides nobody).
    #[error("ring too small: minimum {min} members, got {got}")]
    RingTooSmall {
        /// Minimum ring size accepted.
        min: usize,
        /// Ring size received.
        got: usize,
    },

    /// A ring had more members than the maximum (bounds verification cost).
    #[error("ring too large: maximum {max} members, got {got}")]
    RingTooLarge {
        /// Maximum ring size accepted.
        max: usize,
        /// Ring size received.
        got: usize,
    },

    /// The same public key appears twice in a ring.
    #[error("duplicate ring member at positions {first} and {second}")]
    DuplicateRingMember {
        /// Position of the first occurrence (canonical order).
        first: usize,
        /// Position of the second occurrence.
        second: usize,
    },

    /// Encoded ring members were not in canonical (strictly increasing byte) order.
    #[error("ring not in canonical order at position {index}")]
    RingNotCanonical {
        /// Position of the first member that is smaller than its predecessor.
        index: usize,
    },

    /// A ring signature's number of responses differs from the ring's size.
    #[error("ring signature has {got} responses, ring has {expected} members")]
    RingLengthMismatch {
        /// Ring size.
        expected: usize,
        /// Number of responses in the signature.
        got: usize,
    },

    /// The signer's public key is not a member of the ring.
    #[error("signer's public key is not a member of the ring")]
    SignerNotInRing,

    /// A ring signature's challenge chain did not close (`c_n != c_0`).
    #[error("ring signature does not verify")]
    BadRingSignature,

    /// A Chaum-Pedersen DLEQ proof did not verify for this public key, key image, event base
    /// and context.
    #[error("DLEQ proof does not verify")]
    BadDleqProof,

    /// Hash-to-curve failed (only possible with an invalid domain separation tag).
    #[error("hash to curve failed for domain separation tag {dst}")]
    HashToCurve {
        /// Domain separation tag used.
        dst: &'static str,
    },

    /// A commitment opening did not reproduce the commitment.
    #[error("{kind} commitment does not match its opening")]
    CommitmentMismatch {
        /// Which commitment (`"identity"`, `"bid"`).
        kind: &'static str,
    },

    // ---- canonical encoding (codec) ----
    /// Input ended before a field was complete.
    #[error("{field}: truncated, needed {needed} more bytes, {remaining} left")]
    Truncated {
        /// Field being decoded.
        field: &'static str,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes that were left.
        remaining: usize,
    },

    /// Bytes were left over after a complete value.
    #[error("{field}: {count} trailing bytes after the value")]
    TrailingBytes {
        /// Value that was decoded.
        field: &'static str,
        /// Number of bytes left over.
        count: usize,
    },

    /// A length prefix exceeded the field's cap.
    #[error("{field}: length {got} exceeds the cap of {cap}")]
    LengthOverCap {
        /// Field whose length was read.
        field: &'static str,
        /// Largest length accepted.
        cap: u64,
        /// Length read.
        got: u64,
    },

    /// An enum tag byte named no known variant.
    #[error("{field}: unknown tag {tag}")]
    UnknownTag {
        /// Enum being decoded.
        field: &'static str,
        /// Tag read.
        tag: u8,
    },

    /// A stored trust record was not canonical.
    #[error("trust record of {account}: {source}")]
    InvalidTrustRecord {
        /// Account the record belongs to (all zero when not known yet).
        account: crate::crypto::Address,
        /// fusion's reason.
        #[source]
        source: fusion::Error,
    },

    // ---- transactions ----
    /// A transaction's nonce was not the sender's next nonce (a replay, or a gap).
    #[error("nonce of {account}: expected {expected}, got {got}")]
    NonceMismatch {
        /// Sender.
        account: crate::crypto::Address,
        /// The account's next nonce.
        expected: u64,
        /// The transaction's nonce.
        got: u64,
    },

    /// The sender cannot pay amount plus fee.
    #[error("insufficient funds in {account}: needs {needed}, has {available}")]
    InsufficientFunds {
        /// Sender.
        account: crate::crypto::Address,
        /// Amount plus fee.
        needed: u128,
        /// Balance.
        available: u128,
    },

    /// An account-signed transaction's fee is below the chain's `min_fee`.
    #[error("fee {fee} of {account}'s transaction is below the minimum fee {minimum}")]
    FeeTooLow {
        /// Sender.
        account: crate::crypto::Address,
        /// The transaction's fee.
        fee: u128,
        /// `ChainParams::min_fee`.
        minimum: u128,
    },

    /// A transfer of 0 to an address without an account: it would create an empty account
    /// (state bloat) and move nothing.
    #[error("zero-value transfer from {sender} to {recipient}, which has no account")]
    ZeroValueToNewAccount {
        /// Sender.
        sender: crate::crypto::Address,
        /// The recipient that has no account.
        recipient: crate::crypto::Address,
    },

    /// The sender has no account (it never received anything).
    #[error("unknown sender account {account}")]
    UnknownAccount {
        /// Sender.
        account: crate::crypto::Address,
    },

    /// An integer would overflow (balances, rewards, cumulative work).
    #[error("arithmetic overflow in {what}")]
    Overflow {
        /// What was being computed.
        what: &'static str,
    },

    /// No contract instance has this id (never created, already removed, or not a contract).
    #[error("no contract instance {contract}")]
    UnknownContract {
        /// Called contract id.
        contract: crate::digest::Hash256,
    },

    /// Transaction `index` of a block was rejected.
    #[error("transaction {index} ({tx_id}) rejected: {source}")]
    TxRejected {
        /// Position in the block body.
        index: usize,
        /// Transaction id.
        tx_id: crate::digest::Hash256,
        /// Why.
        #[source]
        source: Box<Error>,
    },

    // ---- blocks and consensus ----
    /// A header field differs from what the parent state dictates.
    #[error("block {field}: expected {expected}, got {got}")]
    HeaderMismatch {
        /// Header field (`height`, `prev_hash`, `base_difficulty`, `miner_trust`, ...).
        field: &'static str,
        /// Value required by the parent.
        expected: String,
        /// Value in the header.
        got: String,
    },

    /// A block's timestamp is not after its parent's, or too far in the future.
    #[error("block timestamp {got_ms} ms: {reason} (bound {bound_ms} ms)")]
    BadTimestamp {
        /// Timestamp in the header.
        got_ms: u64,
        /// The violated bound.
        bound_ms: u64,
        /// `"not after parent"` or `"too far in the future"`.
        reason: &'static str,
    },

    /// A Merkle root (transactions, state, checkpoint body) does not match its content.
    #[error("{root} root mismatch: header says {expected}, content gives {got}")]
    RootMismatch {
        /// Which root (`tx_root`, `state_root`, `checkpoint_body`).
        root: &'static str,
        /// Root the header commits to.
        expected: crate::digest::Hash256,
        /// Root computed from the content.
        got: crate::digest::Hash256,
    },

    /// The header hash is above the miner's PoT target.
    #[error("insufficient proof of trust: hash {hash} above target {target}")]
    InsufficientWork {
        /// Header hash.
        hash: crate::digest::Hash256,
        /// Target for this miner and base difficulty.
        target: crate::digest::Hash256,
    },

    /// A checkpoint block where a normal block belongs, or the reverse.
    #[error("height {height}: expected a {expected} block")]
    WrongBlockKind {
        /// Block height.
        height: u64,
        /// `"checkpoint"` or `"transactions"`.
        expected: &'static str,
    },

    /// A checkpoint was mined by an account other than a highest-trust one.
    #[error("checkpoint miner {miner} has trust {trust}, the highest is {highest}")]
    CheckpointMinerNotTrusted {
        /// Miner.
        miner: crate::crypto::Address,
        /// Its trust in the parent state.
        trust: fusion::Fx,
        /// Highest trust in the parent state.
        highest: fusion::Fx,
    },

    /// A block or transaction breaks a size limit of the chain parameters.
    #[error("{what}: {got} exceeds the limit of {limit}")]
    LimitExceeded {
        /// What was counted.
        what: &'static str,
        /// Limit.
        limit: u64,
        /// Count.
        got: u64,
    },

    // ---- block tree ----
    /// A block descends from a block already found invalid.
    #[error("block {block} descends from invalid block {ancestor}")]
    InvalidAncestor {
        /// The rejected block.
        block: crate::digest::Hash256,
        /// Its invalid ancestor.
        ancestor: crate::digest::Hash256,
    },

    /// A block is at or below the pruned root (a fork behind a confirmed checkpoint).
    #[error("block {block} at height {height} is at or below the root height {root_height}")]
    BelowRoot {
        /// The rejected block.
        block: crate::digest::Hash256,
        /// Its height.
        height: u64,
        /// Height of the tree's root (genesis or confirmed checkpoint).
        root_height: u64,
    },

    /// A block hash named no block of the tree.
    #[error("unknown block {block}")]
    UnknownBlock {
        /// The hash asked for.
        block: crate::digest::Hash256,
    },

    /// Mining stopped: cancelled, or the nonce range ran out without a solution.
    #[error("mining stopped: {reason}")]
    MiningStopped {
        /// `"cancelled"` or `"nonce range exhausted"`.
        reason: &'static str,
    },

    // ---- configuration and storage ----
    /// A genesis config or chain parameter is invalid.
    #[error("invalid config `{field}`: {reason}")]
    InvalidConfig {
        /// Field name.
        field: &'static str,
        /// Why.
        reason: String,
    },

    /// The storage engine failed (I/O, lock, redb internal error).
    #[error("storage: {op} failed: {reason}")]
    Storage {
        /// Operation (`open`, `commit`, `read blocks`, ...).
        op: &'static str,
        /// The engine's message.
        reason: String,
    },

    /// The store's content is inconsistent: a record is missing, undecodable or invalid.
    #[error("corrupt store: table `{table}`, key {key}: {reason}")]
    CorruptStore {
        /// Table (`blocks`, `heights`, `meta`, `snapshots`).
        table: &'static str,
        /// The record's key, rendered.
        key: String,
        /// What is wrong with it.
        reason: String,
    },

    // ---- leasing economics ----
    /// A leasing-economics parameter or argument is out of its range (SPEC section 7).
    #[error("economics parameter {field} = {value}: expected {expected}")]
    InvalidEconomics {
        /// Parameter (`p_s`, `p_w`, `gamma`, `capacity`, `p_m`, `m`).
        field: &'static str,
        /// Value received, rendered.
        value: String,
        /// The accepted range.
        expected: &'static str,
    },

    // ---- contracts (crate::contracts) ----
    /// Only the task issuer (highest trust in the parent state; smallest address on a tie)
    /// may open sensing tasks.
    #[error("only the task issuer {expected} may open tasks, not {got}")]
    NotTaskIssuer {
        /// The task issuer.
        expected: crate::crypto::Address,
        /// The caller.
        got: crate::crypto::Address,
    },

    /// A channel index outside the band plan.
    #[error("unknown channel {channel} (the band plan has {channels})")]
    UnknownChannel {
        /// Index asked for.
        channel: u32,
        /// Channels in the band plan.
        channels: u32,
    },

    /// The channel already has a task that has not been fused yet (one task per channel per
    /// round).
    #[error("channel {channel} already has task {task} open")]
    TaskAlreadyOpen {
        /// Channel.
        channel: u32,
        /// Its open task.
        task: u64,
    },

    /// A contract call arrived before its window opened.
    #[error("{call} for {task} at height {height}: window opens at {opens}")]
    OutOfPhase {
        /// The call (`register`, `upload`, `reveal`, `commit`, `reveal_bids`, `heartbeat`).
        call: &'static str,
        /// Task, auction or channel the call addressed.
        task: u64,
        /// Height of the block carrying the call.
        height: u64,
        /// First height of the call's window.
        opens: u64,
    },

    /// A contract call arrived after its window closed.
    #[error("{call} for {task} at height {height}: too late, the window closed at {deadline}")]
    Late {
        /// The call.
        call: &'static str,
        /// Task or auction the call addressed.
        task: u64,
        /// Height of the block carrying the call.
        height: u64,
        /// Last height of the call's window.
        deadline: u64,
    },

    /// The account already registered for this task.
    #[error("{account} already registered for task {task}")]
    AlreadyRegistered {
        /// Task.
        task: u64,
        /// Account.
        account: crate::crypto::Address,
    },

    /// The account has not registered for this task.
    #[error("{account} is not registered for task {task}")]
    NotRegistered {
        /// Task.
        task: u64,
        /// Account.
        account: crate::crypto::Address,
    },

    /// A buy-in was refused.
    #[error("buy-in of {account} for task {task} refused: {reason}")]
    BuyInRefused {
        /// Task.
        task: u64,
        /// Account.
        account: crate::crypto::Address,
        /// `"already bought in"`, `"trust already meets the threshold"` or `"the selection
        /// scheme takes no buy-ins"`.
        reason: &'static str,
    },

    /// A contract instance is full (registrations, bidders, commits per bidder).
    #[error("{what} of {task}: limit of {limit} reached")]
    CapacityReached {
        /// What is full (`"registrations"`, `"bidders"`, `"commits per bidder"`).
        what: &'static str,
        /// Task or auction.
        task: u64,
        /// The limit.
        limit: u64,
    },

    /// An anonymous upload was signed over a ring other than the task's selected sensors.
    #[error("upload for task {task}: ring is not the task's ring of selected sensors")]
    RingMismatch {
        /// Task.
        task: u64,
    },

    /// An anonymous upload's event round is not the task's round.
    #[error("upload for task {task}: round {got}, the task's round is {expected}")]
    RoundMismatch {
        /// Task.
        task: u64,
        /// The task's round.
        expected: u64,
        /// The upload's round.
        got: u64,
    },

    /// A second report from the same signer (same key image) for one task.
    #[error("task {task} already has a report with key image {key_image}")]
    DuplicateReport {
        /// Task.
        task: u64,
        /// The repeated key image (boxed: a decoded point is large).
        key_image: Box<crate::crypto::KeyImage>,
    },

    /// A reveal from an account that was not selected for the task.
    #[error("{account} was not selected for task {task}")]
    NotSelected {
        /// Task.
        task: u64,
        /// Account.
        account: crate::crypto::Address,
    },

    /// A reveal's DLEQ proof does not show that the revealing account made the key image of
    /// any unrevealed report carrying the opened commitment (e.g. two sensors swapping
    /// outcomes by committing to each other's address).
    #[error("{account}'s reveal for task {task} does not prove it made the report's key image")]
    BadRevealProof {
        /// Task.
        task: u64,
        /// The revealing account.
        account: crate::crypto::Address,
    },

    /// The account already revealed (its identity, or this bid).
    #[error("{account} already revealed for {task}")]
    AlreadyRevealed {
        /// Task or auction.
        task: u64,
        /// Account.
        account: crate::crypto::Address,
    },

    /// A deposit below the contract's minimum.
    #[error("deposit {got} for {task} is below the minimum {minimum}")]
    DepositTooSmall {
        /// Auction.
        task: u64,
        /// Minimum deposit.
        minimum: u128,
        /// Deposit offered.
        got: u128,
    },

    /// The auction already holds this blinded bid (it binds no bidder, so a copy is refused).
    #[error("auction {task} already holds blinded bid {blinded}")]
    DuplicateCommit {
        /// Auction.
        task: u64,
        /// The repeated blinded bid.
        blinded: crate::crypto::BlindedBid,
    },

    /// Contract call data or content is malformed or addressed to the wrong contract.
    #[error("invalid contract call, {field}: {reason}")]
    InvalidCall {
        /// The offending part (`"call"`, `"report.energy_mdb"`, `"openings"`, ...).
        field: &'static str,
        /// Why.
        reason: &'static str,
    },

    /// A lease call from an account that does not hold the channel's lease.
    #[error("channel {channel}: {got} does not hold the lease (holder {holder:?})")]
    NotLeaseHolder {
        /// Channel.
        channel: u32,
        /// Current holder, if any.
        holder: Option<crate::crypto::Address>,
        /// Caller.
        got: crate::crypto::Address,
    },

    /// A lease call the lease's state does not allow.
    #[error("channel {channel}: lease is {state}")]
    LeaseInactive {
        /// Channel.
        channel: u32,
        /// Its state (`"suspended"`).
        state: &'static str,
    },

    /// Fusion failed on a task's reports (not expected: reports are checked on upload).
    #[error("fusion of task {task}: {source}")]
    FusionFailed {
        /// Task.
        task: u64,
        /// fusion's reason.
        #[source]
        source: fusion::Error,
    },

    // ---- network (crate::net) ----
    /// A network envelope carried a protocol version this node does not speak.
    #[error("{field}: unsupported network protocol version {got}, this node speaks {supported}")]
    UnsupportedVersion {
        /// What was being decoded (`"net.message"`, `"net.request"`, `"net.response"`).
        field: &'static str,
        /// Version byte received.
        got: u8,
        /// Version this node speaks.
        supported: u8,
    },

    /// A gossip message arrived on a topic that does not carry its kind.
    #[error("a {kind} message arrived on topic {topic}")]
    WrongTopic {
        /// Topic the message arrived on.
        topic: &'static str,
        /// Kind of message it decoded to.
        kind: &'static str,
    },

    /// A network queue is full; the command was not queued (back-pressure, try again later).
    #[error("network queue `{queue}` is full")]
    NetworkBusy {
        /// Which queue (`"commands"`, `"events"`).
        queue: &'static str,
    },

    /// The networking task has stopped (shut down or failed); its handle is no longer usable.
    #[error("network stopped: {reason}")]
    NetworkStopped {
        /// Why (`"shut down"`, `"task ended"`).
        reason: &'static str,
    },

    /// A transport operation failed (listen, dial, building the swarm, publishing).
    #[error("network: {op} failed: {reason}")]
    Transport {
        /// Operation (`"listen"`, `"dial"`, `"build swarm"`, `"publish"`).
        op: &'static str,
        /// The transport's message.
        reason: String,
    },

    /// A peer named no node of the network (a simulated node index out of range).
    #[error("unknown peer {peer}")]
    UnknownPeer {
        /// The peer, rendered.
        peer: String,
    },

    /// A reply handle named no pending inbound request (already answered, or its requester is
    /// gone).
    #[error("no pending request for reply handle {handle}")]
    UnknownReply {
        /// The handle's number.
        handle: u64,
    },
}
