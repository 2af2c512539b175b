"""benchmarks.callgrind_tokens: the counts read back from callgrind's dumps, one per request, grouped by kind of
token request in the order they ran, with the median of each (the valgrind run itself takes minutes: not here)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.callgrind_tokens import _summary
from tests.benchmarks.test_callgrind_steps import _dump


def test_each_request_is_counted_under_its_kind_with_the_median(tmp_path: Path) -> None:
    _dump(tmp_path, 1, "authorization_code", 3_100_000)
    _dump(tmp_path, 2, "authorization_code", 3_000_000)
    _dump(tmp_path, 3, "refresh_token", 2_900_000)
    _dump(tmp_path, 10, "authorization_code", 3_300_000)  # after 3: numbers, not text, give the order
    _dump(tmp_path, 11, "client_credentials", 1_800_000)
    assert _summary(tmp_path).splitlines() == [
        "authorization_code: median 3.10 M instructions (3 requests: 3.10 3.00 3.30)",
        "refresh_token: median 2.90 M instructions (1 requests: 2.90)",
        "client_credentials: median 1.80 M instructions (1 requests: 1.80)",
    ]
