// The cross-test harness: reads a JSON list of tasks on stdin, answers a JSON list of results on stdout.
// Run by tests/frontend/test_ballot_crypto_interop.py against the Python package `votecrypto`.
//   {"op": "encrypt", "key", "election", "nonce", "options", "choice", "format", "seed"?}  → the ballot (seeded:
//                                                                                   deterministic)
//   {"op": "verify", "ballot", "key", "election", "options", "nonce", "format"}   → {"ok": true} or {"error": "…"}
//   {"op": "hash", "tag", "parts": [hex…]}                                         → the scalar, hex
//   {"op": "challenge", "tag", "parts": [hex…]}                                    → format 2's challenge, hex
//   {"op": "tracking", "ballot"}                                                   → {"hex", "display"}
import { readFileSync } from "node:fs";
import {
  displayCode,
  encryptBallot,
  hashToChallenge,
  hashToScalar,
  seededRandom,
  toHex,
  trackingCode,
  verifyBallot,
} from "./crypto.js";
import { numberToBytesLE } from "@noble/curves/utils.js";

const hexBytes = (text) => Uint8Array.from(text.match(/../g) ?? [], (h) => parseInt(h, 16));

function run(task) {
  switch (task.op) {
    case "encrypt": {
      const random = task.seed === undefined ? undefined : seededRandom(hexBytes(task.seed));
      return encryptBallot({ ...task, random });
    }
    case "verify":
      try {
        verifyBallot(task.ballot, task);
        return { ok: true };
      } catch (error) {
        return { error: String(error.message) };
      }
    case "hash":
      return toHex(numberToBytesLE(hashToScalar(task.tag, ...task.parts.map(hexBytes)), 32));
    case "challenge":
      return toHex(numberToBytesLE(hashToChallenge(task.tag, ...task.parts.map(hexBytes)), 32));
    case "tracking": {
      const digest = trackingCode(task.ballot);
      return { hex: toHex(digest), display: displayCode(digest) };
    }
    default:
      throw new Error(`unknown op ${task.op}`);
  }
}

const tasks = JSON.parse(readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify(tasks.map(run)));
