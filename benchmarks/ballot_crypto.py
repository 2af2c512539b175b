"""The encrypted ballot's cost: encryption with its proofs in Debian's chromium (the voter's side) and in Python, and
the server's verification of one ballot, per core, for scrutins of several sizes.

- **chromium**: the ballot module (``frontend/ballot/crypto.js``, bundled by the project's esbuild into a temporary
  file) loaded in a blank page of headless chromium; ``encryptBallot`` timed with ``performance.now()`` for a scrutin
  of ``--browser-lists`` lists (default 10: 11 options with blank). The first run (cold: JIT, tables) and the median
  of the others.
- **server**: the verification of ballots encrypted beforehand, for ``--lists`` sizes, in both proof formats (1:
  full challenges, the elections created before format 2; 2: 128-bit challenges, the new elections) by both back
  ends, in turn on the same ballots in the same run (libsodium alone, the reference; libdecaf, what the portal
  runs); CPU time of this process (one core), so the figure is ballots verified per second per core.
- **primitives** (``--primitives SECONDS``): the CPU time of one call of each libdecaf function the verifier can use
  (best of 5 batches of ``SECONDS`` each), and the cost of one option and of a ten-list ballot as
  :mod:`votecrypto.fastverify` combines them, beside the measured figure (docs/auditors/ballot-box.md,
  "Performance", has the model).

    .venv/bin/python -m benchmarks.ballot_crypto [--lists 1,3,5,10] [--seconds 3] [--browser-runs 10] [--primitives 0.2]
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import json
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from votecrypto import Ballot, decaf, encrypt_ballot, fastverify
from votecrypto import group as g
from votecrypto.ballot import FORMATS, verify_ballot_reference

#: The verifications compared: before (libsodium only) and after (libdecaf, what the portal runs).
BACKENDS = {"libsodium": verify_ballot_reference, "libdecaf": fastverify.verify_ballot}
#: Each back end in each proof format (:data:`votecrypto.ballot.FORMATS`), as the table prints them.
RUNS = tuple((name, fmt) for fmt in FORMATS for name in BACKENDS)

FRONTEND = Path(__file__).resolve().parents[1] / "frontend"
CHROMIUM = "/usr/bin/chromium"


def server(lists: int, seconds: float) -> tuple[float, dict[tuple[str, int], float], int]:
    """(ms to encrypt one ballot of the current format, ms to verify one per back end and format, ballots verified
    per back end and format) in CPU time of this process.

    Both back ends verify the same ballots of each format in turn, in this one run: libsodium option by option
    (:func:`votecrypto.ballot.verify_ballot_reference`, the figure before libdecaf) and libdecaf
    (:mod:`votecrypto.fastverify`, what :func:`votecrypto.verify_ballot` runs).
    """
    key = g.mul_base(g.random_scalar())
    election, nonce = bytes(range(32)), bytes(32)
    options = lists + 1
    pools: dict[int, list[Ballot]] = {}
    encrypt_ms = 0.0
    for fmt in FORMATS:
        started = time.process_time()
        pools[fmt] = [
            encrypt_ballot(
                key=key, election=election, nonce=nonce, options=options, choice=n % options, proof_format=fmt
            )
            for n in range(20)
        ]
        encrypt_ms = (time.process_time() - started) / len(pools[fmt]) * 1000
    spent = dict.fromkeys(RUNS, 0.0)
    counted = dict.fromkeys(RUNS, 0)
    rounds = 0
    while min(spent.values()) < seconds or rounds < 20:
        for name, fmt in RUNS:
            check = BACKENDS[name]
            started = time.process_time()
            check(pools[fmt][rounds % 20], key=key, election=election, options=options, nonce=nonce, proof_format=fmt)
            spent[name, fmt] += time.process_time() - started
            counted[name, fmt] += 1
        rounds += 1
    return encrypt_ms, {run: spent[run] / counted[run] * 1000 for run in RUNS}, rounds


def _per_call_us(call: Callable[[], object], seconds: float) -> float:
    """µs of CPU per call: the best of 5 batches of about ``seconds`` each (the least disturbed by other work)."""
    call()
    started = time.process_time()
    probe = 0
    while time.process_time() - started < seconds / 10 or probe < 10:
        call()
        probe += 1
    batch = max(10, int(probe * 10))
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        for _ in range(batch):
            call()
        best = min(best, (time.process_time() - started) / batch)
    return best * 1e6


def primitives(seconds: float) -> dict[str, float]:
    """µs per call of each libdecaf primitive (public random points and scalars; 128-bit scalars for the estimate
    of shorter challenges), of the ctypes call itself and of the hash."""
    lib = decaf.library()
    p, q = (decaf.decode(g.mul_base(g.random_scalar())) for _ in range(2))
    s, t = (decaf.scalar(g.random_scalar()) for _ in range(2))
    short = decaf.scalar((2**128 - 159).to_bytes(32, "little"))
    assert p is not None and q is not None and s is not None and t is not None and short is not None
    zero, out, other = decaf.Scalar(), decaf.Point(), decaf.Point()
    key_table, base_table = decaf.Table(q), decaf.base_table()
    encoded, buffer = p.encode(), ctypes.create_string_buffer(32)
    double_mul = lib.decaf_255_base_double_scalarmul_non_secret
    parts = (bytes(32), bytes(32), bytes(4)) + (bytes(32),) * 6
    calls: dict[str, Callable[[], object]] = {
        "ctypes call (decaf_255_scalar_eq)": lambda: lib.decaf_255_scalar_eq(s.addr, t.addr),
        "point_scalarmul s·P (constant time)": lambda: lib.decaf_255_point_scalarmul(out.addr, p.addr, s.addr),
        "point_dual_scalarmul s·P, t·P": lambda: lib.decaf_255_point_dual_scalarmul(
            out.addr, other.addr, p.addr, s.addr, t.addr
        ),
        "point_double_scalarmul s·P + t·Q (constant time)": lambda: lib.decaf_255_point_double_scalarmul(
            out.addr, p.addr, s.addr, q.addr, t.addr
        ),
        "base_double_non_secret s·G + t·P": lambda: double_mul(out.addr, s.addr, p.addr, t.addr),
        "base_double_non_secret 0·G + t·P": lambda: double_mul(out.addr, zero.addr, p.addr, t.addr),
        "base_double_non_secret s·G + t·P, t 128-bit": lambda: double_mul(out.addr, s.addr, p.addr, short.addr),
        "base_double_non_secret 0·G + t·P, t 128-bit": lambda: double_mul(out.addr, zero.addr, p.addr, short.addr),
        "precomputed_scalarmul s·G (generator's table)": lambda: lib.decaf_255_precomputed_scalarmul(
            out.addr, base_table, s.addr
        ),
        "precomputed_scalarmul s·K (election key's table)": lambda: key_table.mul(s, out),
        "precompute (the election key's table)": lambda: decaf.Table(q),
        "point_decode": lambda: lib.decaf_255_point_decode(out.addr, encoded, 2**64 - 1),
        "point_encode": lambda: lib.decaf_255_point_encode(buffer, p.addr),
        "point_add": lambda: lib.decaf_255_point_add(out.addr, p.addr, q.addr),
        "scalar_decode": lambda: lib.decaf_255_scalar_decode(t.addr, g.ONE),
        "SHA-512 of an option's hash (group.hash_to_int)": lambda: g.hash_to_int("zero-or-one", *parts),
        "SHA-512 alone (the same 327 bytes)": lambda: hashlib.sha512(bytes(327)).digest(),
    }
    return {name: _per_call_us(call, seconds) for name, call in calls.items()}


def cost_model(us: dict[str, float]) -> tuple[float, float, float, float]:
    """(µs per option, µs of the exactly-one proof) in format 1, then in format 2 (128-bit challenges), from the
    primitives, as :mod:`votecrypto.fastverify` combines them; the Python around the calls is not counted."""
    full, zero_g = us["base_double_non_secret s·G + t·P"], us["base_double_non_secret 0·G + t·P"]
    key, base = (
        us["precomputed_scalarmul s·K (election key's table)"],
        us["precomputed_scalarmul s·G (generator's table)"],
    )
    decode, encode, add = us["point_decode"], us["point_encode"], us["point_add"]
    hashed, scalar = us["SHA-512 of an option's hash (group.hash_to_int)"], us["scalar_decode"]
    # 2 decodes, 4 scalars, a0 a1 (double multiplications), b0 b1 (table + double multiplication with 0·G + add),
    # β − G, 4 encodings, the hash, the running sums (2 additions).
    option = 2 * decode + 4 * scalar + 2 * full + 2 * (key + zero_g + add) + add + 4 * encode + hashed + 2 * add
    exactly_one = 2 * scalar + full + key + zero_g + add + add + 4 * encode + hashed + 2 * add
    short_zero_g = us["base_double_non_secret 0·G + t·P, t 128-bit"]
    # With challenges of 128 bits: c·α and c·β by the short double multiplication, z·G and z·K by the tables.
    short_option = 2 * decode + 4 * scalar + 2 * (base + short_zero_g + add) + 2 * (key + short_zero_g + add)
    short_option += add + 4 * encode + hashed + 2 * add
    short_exactly_one = 2 * scalar + base + short_zero_g + add + key + short_zero_g + add + 4 * encode + hashed
    short_exactly_one += 2 * add
    return option, exactly_one, short_option, short_exactly_one


def browser(lists: int, runs: int) -> tuple[float, float] | None:
    """(first run ms, median of the others ms) of encryptBallot in chromium, or None if it cannot run here."""
    esbuild = FRONTEND / "node_modules" / ".bin" / "esbuild"
    if not esbuild.exists() or not Path(CHROMIUM).exists():
        return None
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="portal-bench-") as directory:
        bundle = Path(directory) / "crypto.js"
        subprocess.run(
            [
                str(esbuild),
                str(FRONTEND / "ballot" / "crypto.js"),
                "--bundle",
                "--format=iife",
                "--global-name=BallotCrypto",
                f"--outfile={bundle}",
                "--log-level=warning",
            ],
            check=True,
            timeout=120,
        )
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                page = chromium.new_page()
                page.set_content("<!doctype html><title>bench</title>")
                page.add_script_tag(content=bundle.read_text(encoding="utf-8"))
                timings = page.evaluate(
                    """([options, runs]) => {
                        const { encryptBallot } = BallotCrypto;
                        const key = "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76";
                        const out = [];
                        for (let n = 0; n < runs; n++) {
                          const started = performance.now();
                          encryptBallot({ key, election: "00".repeat(32), nonce: "11".repeat(32), options,
                                          choice: n % options, format: 2 });
                          out.push(performance.now() - started);
                        }
                        return out;
                    }""",
                    [lists + 1, runs],
                )
            finally:
                chromium.close()
    first, rest = timings[0], timings[1:] or timings
    return first, statistics.median(rest)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lists", default="1,3,5,10", help="scrutin sizes (lists, blank added) for the server")
    parser.add_argument("--seconds", type=float, default=3.0, help="CPU seconds of verification per size")
    parser.add_argument("--browser-lists", type=int, default=10)
    parser.add_argument("--browser-runs", type=int, default=10)
    parser.add_argument(
        "--primitives", type=float, default=0.0, help="CPU seconds per batch for each libdecaf primitive (0: skip)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures: dict[str, object] = {"server": []}
    if args.primitives > 0:
        us = primitives(args.primitives)
        print("libdecaf primitive (CPU time per call, best of 5 batches)")
        for name, value in us.items():
            print(f"  {name:<50} {value:8.2f} µs")
        option, exactly_one, short_option, short_exactly_one = cost_model(us)
        print(
            f"model of format 1: one option {option:.1f} µs, the exactly-one proof {exactly_one:.1f} µs; ten lists + "
            f"blank {(11 * option + exactly_one) / 1000:.3f} ms = {1e6 / (11 * option + exactly_one):.0f}/s per core "
            f"(Python around the calls not counted)"
        )
        print(
            f"model of format 2 (128-bit challenges): one option {short_option:.1f} µs, the exactly-one proof "
            f"{short_exactly_one:.1f} µs; ten lists + blank {(11 * short_option + short_exactly_one) / 1000:.3f} ms = "
            f"{1e6 / (11 * short_option + short_exactly_one):.0f}/s"
        )
        figures["primitives_us"] = us
    print("verification per ballot: ms of CPU and ballots/s per core, each back end in each proof format")
    header = "".join(f" {f'{name} f{fmt} ms':>17} {'/s':>6}" for name, fmt in RUNS)
    print(f"{'lists':>5} {'encrypt ms f2':>13}{header} {'verified':>9}")
    for lists in (int(x) for x in args.lists.split(",")):
        encrypt_ms, verify_ms, verified = server(lists, args.seconds)
        cells = "".join(f" {verify_ms[run]:>17.3f} {1000 / verify_ms[run]:>6.0f}" for run in RUNS)
        print(f"{lists:>5} {encrypt_ms:>13.2f}{cells} {verified:>9}")
        figures["server"].append(  # type: ignore[attr-defined]
            {
                "lists": lists,
                "encrypt_ms": encrypt_ms,
                "verify_ms": {f"{name}/format{fmt}": ms for (name, fmt), ms in verify_ms.items()},
                "per_core": {f"{name}/format{fmt}": 1000 / ms for (name, fmt), ms in verify_ms.items()},
            }
        )
        f1, f2 = verify_ms["libdecaf", 1], verify_ms["libdecaf", 2]
        print(f"      libdecaf format 2 ÷ format 1: ×{f1 / f2:.3f} ({f1:.3f} → {f2:.3f} ms)")
    result = browser(args.browser_lists, max(2, args.browser_runs))
    if result is None:
        print("chromium: not run (needs /usr/bin/chromium and frontend/node_modules from make install)")
    else:
        first, median = result
        print(
            f"chromium, {args.browser_lists} lists + blank: encryption with proofs {median:.0f} ms "
            f"(median of {max(2, args.browser_runs) - 1}; first run {first:.0f} ms; goal < 1000 ms)"
        )
        figures["chromium"] = {"lists": args.browser_lists, "first_ms": first, "median_ms": median}
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
