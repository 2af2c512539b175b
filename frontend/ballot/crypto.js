// The encrypted ballot, in the voter's browser: exponential ElGamal over ristretto255 with its zero-knowledge
// proofs. The arithmetic is @noble/curves' (audited); this module only arranges it. It mirrors the server's Python
// package `votecrypto` byte for byte (same hashes, same order of random draws): tests/frontend runs both on the same
// test vectors in each direction. The format is documented in the README ("Encrypted ballot box").
//
// Two formats of proofs, chosen by the election manifest's version (the ballot page's data-format): 1, every
// challenge a scalar mod ℓ; 2, every challenge below 2^128 (the hash's first 16 bytes, little-endian; a disjunctive
// proof's challenges add up to it mod 2^128), written as a scalar whose upper 16 bytes are zero.
import { ristretto255 } from "@noble/curves/ed25519.js";
import { bytesToNumberLE, numberToBytesLE } from "@noble/curves/utils.js";
import { sha256, sha512 } from "@noble/hashes/sha2.js";

const Point = ristretto255.Point;
export const ORDER = Point.Fn.ORDER;
const G = Point.BASE;
const DOMAIN = new TextEncoder().encode("portail-elections/v1/");

export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function fromHex(text) {
  if (typeof text !== "string" || !/^[0-9a-f]{64}$/.test(text)) throw new Error("64 lowercase hex digits expected");
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function indexBytes(value) {
  return new Uint8Array([(value >>> 24) & 255, (value >>> 16) & 255, (value >>> 8) & 255, value & 255]);
}

const scalarBytes = (s) => numberToBytesLE(s, 32);
const pointBytes = (p) => p.toBytes();
const mod = (x) => ((x % ORDER) + ORDER) % ORDER;

// The Fiat-Shamir hash: SHA-512 over the domain, the tag, a zero byte and the length-prefixed parts, reduced mod ℓ.
export function hashToScalar(tag, ...parts) {
  return mod(bytesToNumberLE(digest(tag, parts)));
}

export const CHALLENGE_BOUND = 1n << 128n;

function digest(tag, parts) {
  const prefixed = parts.flatMap((p) => [indexBytes(p.length), p]);
  return sha512(concat([DOMAIN, new TextEncoder().encode(tag), new Uint8Array([0]), ...prefixed]));
}

// Format 2's challenge: the same digest, its first 16 bytes read little-endian.
export function hashToChallenge(tag, ...parts) {
  return bytesToNumberLE(digest(tag, parts).subarray(0, 16));
}

// The challenge of a proof in `format` (1: mod ℓ; 2: 128 bits).
const challengeOf = (format, tag, parts) => (format === 2 ? hashToChallenge(tag, ...parts) : hashToScalar(tag, ...parts));

// A uniformly random non-zero scalar from the browser's generator (64 bytes reduced: no measurable bias).
export function randomScalar() {
  for (;;) {
    const wide = crypto.getRandomValues(new Uint8Array(64));
    const s = mod(bytesToNumberLE(wide));
    if (s !== 0n) return s;
  }
}

// Test vectors: the same deterministic source as the Python tests' (scalar i = H("test-random", seed, i)).
export function seededRandom(seed) {
  let counter = 0;
  return () => hashToScalar("test-random", seed, indexBytes(counter++));
}

const mulBase = (s) => (s === 0n ? Point.ZERO : G.multiply(s));
const mulPublic = (s, p) => p.multiplyUnsafe(s);

function zeroOrOneProof(format, context, key, alpha, beta, m, r, random) {
  const w = random();
  // Format 2: the simulated challenge is the random scalar's first 16 bytes (its value mod 2^128).
  const cFake = format === 2 ? random() % CHALLENGE_BOUND : random();
  const zFake = random();
  const fakeShift = m === 1 ? beta : beta.subtract(G);
  const aFake = mulBase(zFake).subtract(mulPublic(cFake, alpha));
  const bFake = key.multiply(zFake).subtract(mulPublic(cFake, fakeShift));
  const aReal = mulBase(w);
  const bReal = key.multiply(w);
  const [a0, b0, a1, b1] = m === 0 ? [aReal, bReal, aFake, bFake] : [aFake, bFake, aReal, bReal];
  const c = challengeOf(format, "zero-or-one", [...context, ...[alpha, beta, a0, b0, a1, b1].map(pointBytes)]);
  const cReal = format === 2 ? (((c - cFake) % CHALLENGE_BOUND) + CHALLENGE_BOUND) % CHALLENGE_BOUND : mod(c - cFake);
  const zReal = mod(w + cReal * r);
  return m === 0 ? { c0: cReal, c1: cFake, z0: zReal, z1: zFake } : { c0: cFake, c1: cReal, z0: zFake, z1: zReal };
}

function checkFormat(format) {
  if (format !== 1 && format !== 2) throw new Error("unknown ballot format");
}

// Encrypt `choice` (0-based: the lists in ballot order, then options - 1 for blank). `key` and `election` are
// hex strings from the ballot page, `nonce` the challenge the portal issued to this voter's session, `format` the
// manifest's version (1 or 2).
export function encryptBallot({ key, election, nonce, options, choice, format, random = randomScalar }) {
  if (!Number.isInteger(options) || options < 2 || !Number.isInteger(choice) || choice < 0 || choice >= options) {
    throw new Error("choice out of range");
  }
  checkFormat(format);
  const K = Point.fromBytes(fromHex(key));
  K.precompute?.(8);
  const E = fromHex(election);
  const N = fromHex(nonce);
  const choices = [];
  let totalR = 0n;
  let sumA = Point.ZERO;
  let sumB = Point.ZERO;
  for (let index = 0; index < options; index++) {
    const m = index === choice ? 1 : 0;
    const r = random();
    const alpha = mulBase(r);
    let beta = K.multiply(r);
    if (m) beta = beta.add(G);
    const proof = zeroOrOneProof(format, [E, N, indexBytes(index)], K, alpha, beta, m, r, random);
    choices.push({
      alpha: toHex(pointBytes(alpha)),
      beta: toHex(pointBytes(beta)),
      c0: toHex(scalarBytes(proof.c0)),
      c1: toHex(scalarBytes(proof.c1)),
      z0: toHex(scalarBytes(proof.z0)),
      z1: toHex(scalarBytes(proof.z1)),
    });
    totalR = mod(totalR + r);
    sumA = sumA.add(alpha);
    sumB = sumB.add(beta);
  }
  const bigB = sumB.subtract(G);
  const w = random();
  const a = mulBase(w);
  const b = K.multiply(w);
  const c = challengeOf(format, "exactly-one", [E, N, ...[K, sumA, bigB, a, b].map(pointBytes)]);
  const z = mod(w + c * totalR);
  return {
    choices,
    election,
    exactly_one: { c: toHex(scalarBytes(c)), z: toHex(scalarBytes(z)) },
    nonce,
  };
}

function scalarOf(text) {
  const s = bytesToNumberLE(fromHex(text));
  if (s >= ORDER) throw new Error("scalar not canonical");
  return s;
}

// Verify a ballot as the server does (used by the cross-tests; the page itself never needs it).
export function verifyBallot(ballot, { key, election, options, nonce, format }) {
  checkFormat(format);
  const bound = format === 2 ? CHALLENGE_BOUND : ORDER;
  if (ballot.election !== election) throw new Error("wrong_election");
  if (nonce !== undefined && ballot.nonce !== nonce) throw new Error("wrong_nonce");
  if (ballot.choices.length !== options) throw new Error("malformed");
  const K = Point.fromBytes(fromHex(key));
  const E = fromHex(election);
  const N = fromHex(ballot.nonce);
  let sumA = Point.ZERO;
  let sumB = Point.ZERO;
  ballot.choices.forEach((choice, index) => {
    const alpha = Point.fromBytes(fromHex(choice.alpha));
    const beta = Point.fromBytes(fromHex(choice.beta));
    if (alpha.is0()) throw new Error("malformed");
    const [c0, c1, z0, z1] = ["c0", "c1", "z0", "z1"].map((name) => scalarOf(choice[name]));
    if (c0 >= bound || c1 >= bound) throw new Error(`zero_or_one:${index}`);
    const a0 = G.multiplyUnsafe(z0).subtract(alpha.multiplyUnsafe(c0));
    const b0 = K.multiplyUnsafe(z0).subtract(beta.multiplyUnsafe(c0));
    const a1 = G.multiplyUnsafe(z1).subtract(alpha.multiplyUnsafe(c1));
    const b1 = K.multiplyUnsafe(z1).subtract(beta.subtract(G).multiplyUnsafe(c1));
    const parts = [E, N, indexBytes(index), ...[alpha, beta, a0, b0, a1, b1].map(pointBytes)];
    if ((c0 + c1) % bound !== challengeOf(format, "zero-or-one", parts)) throw new Error(`zero_or_one:${index}`);
    sumA = sumA.add(alpha);
    sumB = sumB.add(beta);
  });
  const bigB = sumB.subtract(G);
  const c = scalarOf(ballot.exactly_one.c);
  const z = scalarOf(ballot.exactly_one.z);
  if (c >= bound) throw new Error("exactly_one");
  const a = G.multiplyUnsafe(z).subtract(sumA.multiplyUnsafe(c));
  const b = K.multiplyUnsafe(z).subtract(bigB.multiplyUnsafe(c));
  if (challengeOf(format, "exactly-one", [E, N, ...[K, sumA, bigB, a, b].map(pointBytes)]) !== c) {
    throw new Error("exactly_one");
  }
}

// The tracking code: SHA-256 over the domain, "tracking-code", a zero byte, the election hash and the ciphertexts.
export function trackingCode(ballot) {
  const parts = [DOMAIN, new TextEncoder().encode("tracking-code"), new Uint8Array([0]), fromHex(ballot.election)];
  for (const choice of ballot.choices) parts.push(fromHex(choice.alpha), fromHex(choice.beta));
  return sha256(concat(parts));
}

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

// As voters read it: base 32 (RFC 4648) in 13 groups of 4.
export function displayCode(digest) {
  let bits = 0;
  let value = 0;
  let text = "";
  for (const byte of digest) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      text += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) text += BASE32[(value << (5 - bits)) & 31];
  return text.match(/.{1,4}/g).join("-");
}
