//! LSAG ring signature sign/verify cost for rings of 4, 16 and 64 members, and the verify cost
//! of a reveal's DLEQ proof.
//!
//! Run: `cargo bench -p trustband-chain --bench ring`. SPEC target: ring of 16 verifies in
//! about 2 ms (budget 3 ms) on the lab machines.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use chain::crypto::bench::RingFixture;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn ring(c: &mut Criterion) {
    let mut group = c.benchmark_group("lsag");
    group.sample_size(20);
    for n in [4usize, 16, 64] {
        let mut fixture = RingFixture::new(n).unwrap();
        group.bench_with_input(BenchmarkId::new("sign", n), &n, |b, _| {
            b.iter(|| black_box(fixture.sign_as(1).unwrap()));
        });
        let signature = fixture.sign_as(1).unwrap();
        group.bench_with_input(BenchmarkId::new("verify", n), &n, |b, _| {
            b.iter(|| fixture.verify(black_box(&signature)).unwrap());
        });
    }
    group.finish();
}

fn dleq(c: &mut Criterion) {
    let mut fixture = RingFixture::new(16).unwrap();
    let reveal = fixture.reveal_as(1).unwrap();
    let mut group = c.benchmark_group("dleq");
    group.sample_size(20);
    group.bench_function("verify", |b| {
        b.iter(|| black_box(&reveal).verify().unwrap());
    });
    group.finish();
}

criterion_group!(benches, ring, dleq);
criterion_main!(benches);
