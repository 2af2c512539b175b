#!/usr/bin/env python3
"""Verify an export of the Portail Élections audit log (``idp audit export``), with Python's standard library only.

This file deliberately does not import the ``idp`` package: it is the reference implementation of the procedure
described in docs/auditors/export-format.md, which an auditor can read, run as is, or rewrite in another language.

    python tools/verify_audit_export.py EXPORT.jsonl            # a complete export: hashes, links, no gap
    python tools/verify_audit_export.py --filtered EXPORT.jsonl # --since/--until/--type export: hashes, and links
                                                                # between consecutive events only
    python tools/verify_audit_export.py --heads EXPORT.jsonl    # also print each chain's last seq and hash

Exit status: 0 when the export verifies, 1 naming the first problem (by line number), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

GENESIS = "0" * 64
FIELDS = ("chain", "seq", "occurred_at", "type", "subject", "client_id", "data", "prev_hash", "hash")
_HEX64 = re.compile(r"[0-9a-f]{64}")

#: JSON string escapes as the log's writer produces them (Python's ``json.dumps`` with ``ensure_ascii=False``):
#: quote, backslash and the C0 control characters are escaped; every other character is written as itself.
_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_ESCAPES = {code: _SHORT_ESCAPES.get(chr(code), f"\\u{code:04x}") for code in range(0x20)}
_ESCAPES.update({ord('"'): '\\"', ord("\\"): "\\\\"})


class Malformed(ValueError):
    """A line that is not an exported event."""


def json_string(value: str | None) -> str:
    """``null``, or the JSON string literal of ``value`` spelt exactly as the writer spells it."""
    if value is None:
        return "null"
    return '"' + value.translate(_ESCAPES) + '"'


def hashed_text(event: dict[str, Any]) -> str:
    """The exact text whose SHA-256 is the event's hash: the previous hash, a line feed, then the canonical JSON
    of the event's body (keys in this order, no spaces; ``data`` inserted verbatim: it already is canonical JSON)."""
    return (
        f"{event['prev_hash']}\n"
        f'{{"chain":{event["chain"]},"client_id":{json_string(event["client_id"])},"data":{event["data"]},'
        f'"occurred_at":{json_string(event["occurred_at"])},"seq":{event["seq"]},'
        f'"subject":{json_string(event["subject"])},"type":{json_string(event["type"])}}}'
    )


def event_hash(event: dict[str, Any]) -> str:
    return hashlib.sha256(hashed_text(event).encode("utf-8")).hexdigest()


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Two "data" keys would let one JSON reader show a different value from the one another reader verifies.
    keys = [key for key, _ in pairs]
    if len(keys) != len(set(keys)):
        raise Malformed("a key appears twice")
    return dict(pairs)


def parse_line(text: str) -> dict[str, Any]:
    try:
        event = json.loads(text, object_pairs_hook=_refuse_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise Malformed(f"not JSON ({exc.msg})") from None
    if not isinstance(event, dict) or set(event) != set(FIELDS):
        raise Malformed(f"expected an object with exactly the fields {', '.join(FIELDS)}")
    for name in ("chain", "seq"):
        value = event[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < (0 if name == "chain" else 1):
            raise Malformed(f"{name} must be a non-negative integer (seq starts at 1)")
    for name in ("occurred_at", "type", "data"):
        if not isinstance(event[name], str):
            raise Malformed(f"{name} must be a string")
    for name in ("subject", "client_id"):
        if event[name] is not None and not isinstance(event[name], str):
            raise Malformed(f"{name} must be a string or null")
    for name in ("prev_hash", "hash"):
        if not isinstance(event[name], str) or not _HEX64.fullmatch(event[name]):
            raise Malformed(f"{name} must be 64 lowercase hexadecimal digits")
    return event


@dataclass
class Problem(Exception):
    line: int
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.kind}: {self.detail}"


@dataclass
class Summary:
    events: int = 0
    links: int = 0
    gaps: int = 0
    #: chain -> (seq, hash) of the last event seen.
    heads: dict[int, tuple[int, str]] = field(default_factory=dict)


def verify(lines: Iterable[str], *, complete: bool) -> Summary:
    """Check every event's hash and the links between consecutive events of each chain; raise the first Problem.

    Each chain's events must come in increasing seq (the export's order; chains may interleave), so memory holds
    one (seq, hash) per chain whatever the export's size.
    """
    summary = Summary()
    heads = summary.heads
    numbered = enumerate(lines, start=1)
    for number, text in numbered:
        try:
            event = parse_line(text)
        except Malformed as exc:
            raise Problem(number, "malformed", str(exc)) from None
        chain, seq = event["chain"], event["seq"]
        where = f"chain {chain}, seq {seq}"
        if event_hash(event) != event["hash"]:
            raise Problem(number, "altered", f"{where}: the hash does not match the event's content")
        head = heads.get(chain)
        if head is None:
            if seq == 1 and event["prev_hash"] != GENESIS:
                raise Problem(
                    number,
                    "broken link",
                    f"{where}: the first event of a chain must follow the genesis hash (64 zeros)",
                )
            if seq > 1 and complete:
                raise _gap(number, chain, 1, seq - 1, numbered)
        else:
            last_seq, last_hash = head
            if seq <= last_seq:
                raise Problem(number, "reordered", f"{where}: comes after seq {last_seq} of the same chain")
            if seq == last_seq + 1:
                if event["prev_hash"] != last_hash:
                    raise Problem(
                        number,
                        "broken link",
                        f"{where}: prev_hash is not the hash of seq {last_seq}: the event before it was replaced",
                    )
                summary.links += 1
            elif complete:
                raise _gap(number, chain, last_seq + 1, seq - 1, numbered)
            else:
                summary.gaps += 1
        heads[chain] = (seq, event["hash"])
        summary.events += 1
    return summary


def _gap(number: int, chain: int, first: int, last: int, rest: Iterator[tuple[int, str]]) -> Problem:
    """A gap in a complete export: the missing events come later in the file (lines moved), or are gone."""
    for later, text in rest:
        try:
            event = json.loads(text)
        except ValueError:
            continue
        if not isinstance(event, dict):
            continue
        seq = event.get("seq")
        if event.get("chain") == chain and isinstance(seq, int) and first <= seq <= last:
            return Problem(
                number, "reordered", f"chain {chain}: seq {seq} is missing here and comes later, at line {later}"
            )
    missing = f"seq {first}" + (f" to {last}" if last > first else "")
    return Problem(
        number,
        "deleted",
        f"chain {chain}: {missing} missing before this event (if this export was filtered, use --filtered)",
    )


def _read(path: str) -> Iterator[str]:
    if path == "-":
        yield from sys.stdin
        return
    with open(path, encoding="utf-8") as handle:
        yield from handle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify an export of the Portail Élections audit log.")
    parser.add_argument("export", help="the JSON lines file written by 'idp audit export' ('-': standard input)")
    parser.add_argument(
        "--filtered",
        action="store_true",
        help="the export was filtered: gaps between events are expected and not checked",
    )
    parser.add_argument("--heads", action="store_true", help="print the last seq and hash of each chain")
    args = parser.parse_args(argv)
    try:
        summary = verify(_read(args.export), complete=not args.filtered)
    except Problem as problem:
        print(f"export NOT verified: {problem}", file=sys.stderr)
        return 1
    except (OSError, UnicodeDecodeError) as exc:
        print(f"cannot read {args.export}: {exc}", file=sys.stderr)
        return 2
    heads = summary.heads
    if args.filtered:
        print(
            f"{summary.events} events in {len(heads)} chains: every event matches its hash; {summary.links} links "
            f"between consecutive events verified; {summary.gaps} gaps not verifiable (filtered export)"
        )
    else:
        print(f"export intact: {summary.events} events in {len(heads)} chains, each complete from seq 1 without gap")
    if args.heads:
        for chain, (seq, digest) in sorted(heads.items()):
            print(f"chain {chain}: last seq {seq}, hash {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
