#!/usr/bin/env python3
"""Independent cross-check of the known answers pinned in chain/tests/crypto/{kat,commit}.rs.

Not run by CI (needs Python's `cryptography` package, which ships OpenSSL). It recomputes the
domain-separated hash encoding with hashlib, public keys with OpenSSL and with plain-Python
secp256k1 arithmetic, RFC 6979 ECDSA with OpenSSL (then low-S normalised), and verifies the
pinned LSAG signature with a plain-Python verifier (h is taken as x^-1 * I from the known signer
secret; hash_to_curve itself is pinned by the RFC 9380 vectors in src/crypto/hash.rs), and
re-signs it with the hedged nonce and decoys (same bytes expected), and
recomputes the pinned reveal DLEQ proof (ChaCha20 keystream from OpenSSL for the RNG bytes).
Run: python3 chain/tests/data/kat_crosscheck.py and compare with the pinned hex.
"""
import hashlib, struct
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature

P = 2**256 - 2**32 - 977
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
G = (0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
     0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8)
def add(a, b):
    if a is None: return b
    if b is None: return a
    if a[0] == b[0] and (a[1] + b[1]) % P == 0: return None
    if a == b: l = 3*a[0]*a[0] * pow(2*a[1], -1, P) % P
    else: l = (b[1]-a[1]) * pow(b[0]-a[0], -1, P) % P
    x = (l*l - a[0] - b[0]) % P
    return (x, (l*(a[0]-x) - a[1]) % P)
def mul(k, pt):
    r = None
    while k:
        if k & 1: r = add(r, pt)
        pt = add(pt, pt); k >>= 1
    return r
def comp(pt):
    if pt is None: return b"\x00"*33
    return bytes([2 + (pt[1] & 1)]) + pt[0].to_bytes(32, "big")
def decomp(b):
    x = int.from_bytes(b[1:], "big"); y2 = (x**3 + 7) % P; y = pow(y2, (P+1)//4, P)
    assert y*y % P == y2
    if (y & 1) != (b[0] & 1): y = P - y
    return (x, y)
def H(tag, parts):
    h = hashlib.sha256(); t = tag.encode()
    h.update(struct.pack(">Q", len(t)) + t)
    for p in parts: h.update(struct.pack(">Q", len(p)) + p)
    return h.digest()

print("hash tx abc", H("trustband/v1/tx", [b"abc"]).hex())
print("hash tx []", H("trustband/v1/tx", []).hex())
print("hash tx [a,bc]", H("trustband/v1/tx", [b"a", b"bc"]).hex())
def pub_of(x):
    k = ec.derive_private_key(x, ec.SECP256K1())
    c = k.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    assert c == comp(mul(x, G))
    return c
gen = int("023f37203a2476c42566a61cc55c3ca875dbb4cc41c0deb789f8e7bf88183638", 16)
print("gen public", pub_of(gen).hex(), "address", H("trustband/v1/addr", [pub_of(gen)])[:20].hex())
x0 = int.from_bytes(H("trustband/v1/key-seed", [bytes(32)]), "big") % N
print("seed0 secret", hex(x0))
pk0 = pub_of(x0)
print("seed0 public", pk0.hex(), "address", H("trustband/v1/addr", [pk0])[:20].hex())
digest = H("trustband/v1/tx", [b"transfer 5 sharecoin"])
k = ec.derive_private_key(x0, ec.SECP256K1())
der = k.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256()), deterministic_signing=True))
r, s = decode_dss_signature(der)
if s > N // 2: s = N - s
print("seed0 sig", (r.to_bytes(32, "big") + s.to_bytes(32, "big")).hex())

# member secrets of the 4-ring fixture: seeds le64(i) || zeros
xs = []
for i in range(4):
    seed = struct.pack("<Q", i) + bytes(24)
    xs.append(int.from_bytes(H("trustband/v1/key-seed", [seed]), "big") % N)
members = sorted((pub_of(x), x) for x in xs)
ring = b"".join(m for m, _ in members)
print("ring", ring.hex())
sig = bytes.fromhex("b44fa9247f1c3210c0a88614bf9d0de6ee74dc6ee29c00d4cb37dbc14ee9406403cb09331f884d14c127878963fd751d8becf3227de2bf70f883decde48f4a6d94103cbc2ad44aca3fb10ac074991702ac3593ec12f4afc77642e309ef5769127dc08fdbb1c033aed907ca7f62fb9eacb58e2ccb6cd65da9764ccf91b3d3e07b3cf3398bd0d8b0c9de6811070eda7191c2a0caf69c3eedcfb07e37560dd55bef0fea2e8fd94f32731688ada9b0b2654815c9f3ec0b6086b72a4bdb5576cc95c582")
c0 = int.from_bytes(sig[:32], "big"); I = sig[32:65]; ss = [int.from_bytes(sig[65+32*i:97+32*i], "big") for i in range(4)]
x2 = members[2][1]
Ipt = decomp(I)
h = mul(pow(x2, -1, N), Ipt)  # h = x^-1 I (h2c itself is checked by RFC 9380 vectors)
event = struct.pack(">QQ", 7, 3) + bytes(32)  # task, round, chain id (zero in the fixture)
msg = b"channel 3: busy, energy -61.2 dBm"
c = c0
for (m, _), s in zip(members, ss):
    Pi = decomp(m)
    A = add(mul(s, G), mul(c, Pi)); B = add(mul(s, h), mul(c, Ipt))
    c = int.from_bytes(H("trustband/v1/ring", [msg, ring, event, I, comp(A), comp(B)]), "big") % N
print("ring closes:", c == c0)
# tampered message must not close
c = c0
for (m, _), s in zip(members, ss):
    Pi = decomp(m)
    A = add(mul(s, G), mul(c, Pi)); B = add(mul(s, h), mul(c, Ipt))
    c = int.from_bytes(H("trustband/v1/ring", [msg + b"!", ring, event, I, comp(A), comp(B)]), "big") % N
print("tampered closes:", c == c0)

# re-sign with the hedged nonce (ring.rs module docs): r = the fixture RNG's first 32 bytes
# (ChaCha20, key [42]*32, nonce 0), seed = H(ring, [hedge, x, r, m, L, e, I]),
# a = H(ring, [nonce, seed, be64 0]), s_i = H(ring, [decoy, seed, be64 i]); must give the pinned bytes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
rnd = Cipher(algorithms.ChaCha20(bytes([42]*32), bytes(16)), mode=None).encryptor().update(bytes(32))
seed = H("trustband/v1/ring", [b"hedge", x2.to_bytes(32, "big"), rnd, msg, ring, event, I])
a = int.from_bytes(H("trustband/v1/ring", [b"nonce", seed, struct.pack(">Q", 0)]), "big") % N
n = len(members); pi = 2
resp = [int.from_bytes(H("trustband/v1/ring", [b"decoy", seed, struct.pack(">Q", i)]), "big") % N for i in range(n)]
cs = [None] * n
c = int.from_bytes(H("trustband/v1/ring", [msg, ring, event, I, comp(mul(a, G)), comp(mul(a, h))]), "big") % N
for k in range(1, n):
    i = (pi + k) % n
    cs[i] = c
    Pi = decomp(members[i][0])
    A = add(mul(resp[i], G), mul(c, Pi)); B = add(mul(resp[i], h), mul(c, Ipt))
    c = int.from_bytes(H("trustband/v1/ring", [msg, ring, event, I, comp(A), comp(B)]), "big") % N
cs[pi] = c
resp[pi] = (a - c * x2) % N
resigned = cs[0].to_bytes(32, "big") + I + b"".join(s.to_bytes(32, "big") for s in resp)
print("hedged re-sign matches pinned:", resigned == sig)
addr0 = H("trustband/v1/addr", [pk0])[:20]
print("identity commit", H("trustband/v1/commit", [struct.pack(">Q", 7), addr0, bytes([9]*32)]).hex())
print("blinded bid", H("trustband/v1/bid", [(1000).to_bytes(16, "big"), b"\x00", bytes([5]*32)]).hex())
print("blinded fake bid", H("trustband/v1/bid", [(1000).to_bytes(16, "big"), b"\x01", bytes([5]*32)]).hex())

# reveal DLEQ proof of member 2 (chain/tests/crypto/dleq.rs): RNG = ChaCha20, key [42]*32, nonce 0
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
hb = comp(h)
print("event base", hb.hex())
Pb = members[2][0]
ctx = bytes(32) + struct.pack(">Q", 7) + H("trustband/v1/addr", [Pb])[:20]  # chain id || task || address
rnd = Cipher(algorithms.ChaCha20(bytes([42]*32), bytes(16)), mode=None).encryptor().update(bytes(32))
k = int.from_bytes(H("trustband/v1/dleq", [b"nonce", x2.to_bytes(32, "big"), rnd, ctx, hb, Pb, I]), "big") % N
c = int.from_bytes(H("trustband/v1/dleq", [b"challenge", ctx, hb, Pb, I, comp(mul(k, G)), comp(mul(k, h))]), "big") % N
s = (k - c * x2) % N
print("dleq proof", (c.to_bytes(32, "big") + s.to_bytes(32, "big")).hex())
A = add(mul(s, G), mul(c, decomp(Pb))); B = add(mul(s, h), mul(c, Ipt))
print("dleq verifies:", int.from_bytes(H("trustband/v1/dleq", [b"challenge", ctx, hb, Pb, I, comp(A), comp(B)]), "big") % N == c)
