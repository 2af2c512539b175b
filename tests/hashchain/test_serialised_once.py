"""An event's data are serialised once per append (:func:`hashchain.format.event_body_text`,
``hashchain.append._details``), and the rows stored are those the former appends stored: the same ``data`` text and
the same hash, computed here as they were (the data through JSON and back, serialised again, then the whole body
serialised with them), for the data of every shape JSON reads back as they are or reshapes.

Each is held against that former computation: for any value (hypothesis), and through each application's real
append on SQLite and PostgreSQL, whose stored rows the verifier accepts.
"""

from __future__ import annotations

import datetime as dt
import enum
import importlib
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hashchain import ChainedEvent, canonical_json, event_body, event_hash, verify
from hashchain.format import event_body_text, text_hash
from tests.hashchain.conftest import Target

appending = importlib.import_module("hashchain.append")

#: Characters whose JSON spelling every implementation must agree on (see test_format.py).
AWKWARD = 'Zoé "guillemets" \\ fin\nde ligne\t\x01 \U0001f5f3 \u2028'


class Rank(enum.IntEnum):
    FIRST = 1


class Kind(enum.StrEnum):
    CAST = "cast"


class Half(float):
    pass


def former_details(data: dict[str, Any] | None) -> tuple[dict[str, Any], str]:
    """What the appends computed before: the data through JSON and back, and their canonical text."""
    payload = json.loads(canonical_json(dict(data or {})))
    return payload, canonical_json(payload)


def former_hash(event: ChainedEvent, payload: dict[str, Any]) -> str:
    body = event_body(
        chain=event.chain,
        seq=event.seq,
        occurred_at=event.occurred_at,
        type=event.type,
        subject=event.subject,
        client_id=event.client_id,
        data=payload,
    )
    return event_hash(event.prev_hash, body)


texts = st.one_of(st.text(), st.sampled_from([AWKWARD, "", "\x00", "\u2028", "é", "\ud800 seul"]))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    texts,
    st.sampled_from([Rank.FIRST, Kind.CAST, Half(0.5), True, 0, -0.0, 1e16]),
)
#: Values of every shape: dictionaries with string keys, and keys JSON turns into strings (integers that sort as
#: numbers, booleans, None, floats), lists and tuples, subclasses of the scalars.
keys = st.one_of(texts, st.integers(min_value=-1000, max_value=1000))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(texts, inner, max_size=4),
        st.dictionaries(st.integers(min_value=-20, max_value=20), inner, max_size=4),
        st.dictionaries(st.sampled_from([None, True, 1.5]), inner, max_size=1),
    ),
    max_leaves=12,
)
data_objects = st.one_of(
    st.dictionaries(texts, values, max_size=6), st.dictionaries(keys, values, max_size=6), st.none()
)
instants = st.datetimes(
    min_value=dt.datetime(1000, 1, 1), timezones=st.just(dt.UTC), allow_imaginary=False
)  # what the appends give: now, in UTC


@settings(max_examples=300, deadline=None)
@given(data=data_objects)
def test_the_stored_data_text_is_the_former_one(data: dict[Any, Any] | None) -> None:
    try:
        _, expected = former_details(data)
    except (TypeError, ValueError) as refused:  # keys that do not sort together: refused before as now
        try:
            appending._details(data)
        except type(refused):
            return
        raise AssertionError(f"{data!r} was refused before, not now") from refused
    assert appending._details(data) == expected


@settings(max_examples=300, deadline=None)
@given(
    chain=st.integers(min_value=0, max_value=10_000),
    seq=st.integers(min_value=1, max_value=10**12),
    occurred_at=instants,
    type=texts,
    subject=st.one_of(st.none(), texts),
    client_id=st.one_of(st.none(), texts),
    data=st.dictionaries(texts, values, max_size=6),
)
def test_the_body_put_together_is_the_canonical_json_of_the_body(
    chain: int,
    seq: int,
    occurred_at: dt.datetime,
    type: str,
    subject: str | None,
    client_id: str | None,
    data: dict[str, Any],
) -> None:
    payload, details = former_details(data)
    before, after = event_body_text(
        chain=chain, occurred_at=occurred_at, type=type, subject=subject, client_id=client_id, data=details
    )
    body = event_body(
        chain=chain, seq=seq, occurred_at=occurred_at, type=type, subject=subject, client_id=client_id, data=payload
    )
    text = f"{before}{seq}{after}"
    assert text == canonical_json(body)
    if not any("\ud800" <= character <= "\udfff" for character in text):  # a lone surrogate has no UTF-8: no hash
        assert text_hash("f" * 64, text) == event_hash("f" * 64, body)


SHAPES: list[dict[str, Any]] = [
    {"grant": "g-fictif", "jti": "j-fictif", "expires_at": 1_800_000_000, "scope": "openid profile"},
    {"motif": AWKWARD, "liste": [1, None, True, 2.5, -0.0], "imbriqué": {"b": [{}], "a": ()}},
    {"paires": {10: "dix", 9: "neuf"}, "suite": (1, 2)},
    {"rang": Rank.FIRST, "genre": Kind.CAST, "moitié": Half(0.5)},
    {},
]


def test_appends_store_the_rows_the_former_appends_stored(target: Target) -> None:
    """Through the application's real append (PostgreSQL hashes the body the writer put together, SQLite's path
    hashes it here), several events of one transaction and of several: each row's data and hash are those computed
    as before from its position, instant and link."""
    with target.transaction() as session:
        written = [target.append(session, chains=3, subject=AWKWARD, client_id="portail-fictif", **d) for d in SHAPES]
    with target.transaction() as session:
        written.append(target.append(session, chains=3, subject=None, **SHAPES[0]))
    stored = target.events()
    assert sorted(stored, key=lambda e: e.id) == sorted(written, key=lambda e: e.id)
    for event, data in zip(sorted(stored, key=lambda e: e.id), [*SHAPES, SHAPES[0]], strict=True):
        payload, details = former_details(data)
        assert event.data == details
        assert event.hash == former_hash(event, payload) and event.matches()
    assert verify(target.engine, target.log).ok
