//! SigMF metadata (`.sigmf-meta`) on hostile text: `SigmfMeta::parse`, then what a reader and
//! `sense --annotate` do with it.
//!
//! Nothing may panic. A document that parses must serialise (`to_json`) and parse back to the
//! same document (metadata is rewritten in place when detections are merged, so a round trip
//! must lose or change nothing), also after merging an empty detection list.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use radio::source::sigmf::SigmfMeta;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz.sigmf-meta");
    let Ok(meta) = SigmfMeta::parse(text, path) else {
        return;
    };
    let _ = meta.format(path);
    let json = meta
        .to_json()
        .unwrap_or_else(|e| panic!("a parsed document must serialise: {e}"));
    match SigmfMeta::parse(&json, path) {
        Ok(again) => assert_eq!(again, meta, "document written as {json}"),
        Err(e) => panic!("document written as {json} does not parse: {e}"),
    }
    let mut merged = meta.clone();
    merged.merge_detections(&[]);
    let json = merged
        .to_json()
        .unwrap_or_else(|e| panic!("a merged document must serialise: {e}"));
    match SigmfMeta::parse(&json, path) {
        Ok(again) => assert_eq!(again, merged, "merged document written as {json}"),
        Err(e) => panic!("merged document written as {json} does not parse: {e}"),
    }
});
