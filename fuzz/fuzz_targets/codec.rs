//! The chain's canonical codec on hostile bytes: blocks, transactions, headers and states.
//!
//! The first byte picks the type, the rest is decoded with `Decode::from_bytes`. Decoding must
//! never panic; a value that decodes must re-encode to exactly the input (the codec is
//! canonical: one encoding per value), and the checks a node runs next on it (signatures,
//! roots, ids) must not panic either.
#![no_main]

use chain::codec::{Decode, Encode};

/// Transaction signatures are bound to a chain id; any fixed one exercises the same checks.
const FUZZ_CHAIN: chain::Hash256 = chain::Hash256([7; 32]);
use chain::{Block, Header, SignedTx, State, UnsignedTx};
use libfuzzer_sys::fuzz_target;

/// Decodes `bytes` as `T`; on success asserts the canonical round trip.
fn canonical<T: Decode + Encode + PartialEq + std::fmt::Debug>(bytes: &[u8]) -> Option<T> {
    let value = T::from_bytes(bytes).ok()?;
    assert_eq!(
        value.to_bytes(),
        bytes,
        "{} decoded from bytes it does not encode to",
        T::NAME
    );
    Some(value)
}

fuzz_target!(|data: &[u8]| {
    let Some((&kind, bytes)) = data.split_first() else {
        return;
    };
    match kind % 5 {
        0 => {
            if let Some(block) = canonical::<Block>(bytes) {
                let _ = block.verify_signature();
                let _ = block.body.root();
                let _ = block.hash();
                for tx in block.body.transactions() {
                    let _ = tx.id();
                }
            }
        }
        1 => {
            if let Some(tx) = canonical::<SignedTx>(bytes) {
                let _ = tx.verify_signature(&FUZZ_CHAIN);
                let _ = tx.id();
                let _ = tx.sender_address();
            }
        }
        2 => {
            let _ = canonical::<UnsignedTx>(bytes);
        }
        3 => {
            if let Some(header) = canonical::<Header>(bytes) {
                let _ = header.hash();
            }
        }
        _ => {
            if let Some(state) = canonical::<State>(bytes) {
                let _ = state.root();
            }
        }
    }
});
