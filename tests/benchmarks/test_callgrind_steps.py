"""benchmarks.callgrind_steps: the counts read back from callgrind's dumps, one per request, grouped by step in the
order they ran, argon2id subtracted from the password POST (the valgrind run itself takes minutes: not here)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.callgrind_steps import _summary


def _dump(directory: Path, number: int, trigger: str, total: int) -> None:
    (directory / f"cg.out.{number}").write_text(
        f"# callgrind format\nversion: 1\ncmd: python\npart: {number}\n\n"
        f"desc: I1 cache: \ndesc: Trigger: Client Request: {trigger}\n\npositions: line\nevents: Ir\n"
        f"summary: {total}\n\nfl=(1) x.c\nfn=(1) f\n0 {total}\n\ntotals: {total}\n"
    )


def test_each_request_is_counted_under_its_step_and_argon2id_is_subtracted(tmp_path: Path) -> None:
    _dump(tmp_path, 1, "idp.password.post", 203_000_000)
    _dump(tmp_path, 2, "idp.vote_code.post", 12_500_000)
    _dump(tmp_path, 10, "idp.password.post", 204_000_000)  # after 2: numbers, not text, give the order
    _dump(tmp_path, 11, "argon2id", 190_000_000)
    assert _summary(tmp_path).splitlines() == [
        "one argon2id verification: 190.00 M instructions",
        "idp.password.post: 203.00 204.00 M instructions (2 requests)",
        "  less one argon2id: 13.00 14.00",
        "idp.vote_code.post: 12.50 M instructions (1 requests)",
    ]
