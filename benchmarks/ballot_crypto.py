"""The encrypted ballot's cost: encryption with its proofs in Debian's chromium (the voter's side) and in Python, and
the server's verification of one ballot, per core, for scrutins of several sizes.

- **chromium**: the ballot module (``frontend/ballot/crypto.js``, bundled by the project's esbuild into a temporary
  file) loaded in a blank page of headless chromium; ``encryptBallot`` timed with ``performance.now()`` for a scrutin
  of ``--browser-lists`` lists (default 10: 11 options with blank). The first run (cold: JIT, tables) and the median
  of the others.
- **server**: the verification of ballots encrypted beforehand, for ``--lists`` sizes, by both back ends in the
  same run (libsodium alone, the reference; libdecaf, what the portal runs); CPU time of this process (one core),
  so the figure is ballots verified per second per core.

    .venv/bin/python -m benchmarks.ballot_crypto [--lists 1,3,5,10] [--seconds 3] [--browser-runs 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from votecrypto import encrypt_ballot, fastverify
from votecrypto import group as g
from votecrypto.ballot import verify_ballot_reference

#: The verifications compared: before (libsodium only) and after (libdecaf, what the portal runs).
BACKENDS = {"libsodium": verify_ballot_reference, "libdecaf": fastverify.verify_ballot}

FRONTEND = Path(__file__).resolve().parents[1] / "frontend"
CHROMIUM = "/usr/bin/chromium"


def server(lists: int, seconds: float) -> tuple[float, dict[str, float], int]:
    """(ms to encrypt one ballot, ms to verify one per back end, ballots verified) in CPU time of this process.

    Both back ends verify the same ballots in turn, in this one run: libsodium option by option
    (:func:`votecrypto.ballot.verify_ballot_reference`, the figure before libdecaf) and libdecaf
    (:mod:`votecrypto.fastverify`, what :func:`votecrypto.verify_ballot` runs).
    """
    key = g.mul_base(g.random_scalar())
    election, nonce = bytes(range(32)), bytes(32)
    options = lists + 1
    started = time.process_time()
    pool = [
        encrypt_ballot(key=key, election=election, nonce=nonce, options=options, choice=n % options) for n in range(20)
    ]
    encrypt_ms = (time.process_time() - started) / len(pool) * 1000
    spent = dict.fromkeys(BACKENDS, 0.0)
    counted = dict.fromkeys(BACKENDS, 0)
    rounds = 0
    while min(spent.values()) < seconds or rounds < len(pool):
        for name, check in BACKENDS.items():
            started = time.process_time()
            check(pool[rounds % len(pool)], key=key, election=election, options=options, nonce=nonce)
            spent[name] += time.process_time() - started
            counted[name] += 1
        rounds += 1
    return encrypt_ms, {name: spent[name] / counted[name] * 1000 for name in BACKENDS}, rounds


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
                                          choice: n % options });
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
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures: dict[str, object] = {"server": []}
    print(
        f"{'lists':>5} {'encrypt ms (Python)':>20} {'verify ms libsodium':>20} {'ballots/s per core':>19} "
        f"{'verify ms libdecaf':>19} {'ballots/s per core':>19} {'verified':>9}"
    )
    for lists in (int(x) for x in args.lists.split(",")):
        encrypt_ms, verify_ms, verified = server(lists, args.seconds)
        before, after = verify_ms["libsodium"], verify_ms["libdecaf"]
        print(
            f"{lists:>5} {encrypt_ms:>20.2f} {before:>20.2f} {1000 / before:>19.0f} "
            f"{after:>19.2f} {1000 / after:>19.0f} {verified:>9}"
        )
        figures["server"].append(  # type: ignore[attr-defined]
            {
                "lists": lists,
                "encrypt_ms": encrypt_ms,
                "verify_ms": verify_ms,
                "per_core": {name: 1000 / ms for name, ms in verify_ms.items()},
            }
        )
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
