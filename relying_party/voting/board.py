"""The public board of each scrutin (« Urne »): the election's fingerprint and key, the trustees, every tracking code
in the box ordered by code (never by time), « Vérifier mon reçu », and once counted, the result and the election
record. Public: no sign-in, nothing about voters.

A voter checks that their ballot is in the box by its tracking code; anyone can download the election record after
the tally and verify it with ``tools/verify_election_record.py``.

**Published in batches.** The list and the count show only the ballots already mixed
(:mod:`relying_party.voting.mixing`): codes appear a batch at a time, when the mixer runs (every few minutes),
never one by one as voters vote. Someone
watching the board live, who also saw a given voter vote at 10:03, would otherwise see that voter's code appear at
10:03 — a link voter ↔ ciphertext (never a choice); with batches, only that the code is one of the batch. A voter
who checks their receipt before the next mix is told their ballot is in the box and that its code will be listed
with the next batch. The tally mixes everything first, so every code is listed once the scrutin is counted.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, abort, render_template, request, stream_with_context
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from relying_party.db import get_db, get_session
from relying_party.elections.record import RecordUnavailable, election_record
from relying_party.models import Ballot, KeyCeremony, Scrutin, Tally
from relying_party.voting.election import election_info, fingerprint
from votecrypto.ballot import display_code, parse_display_code

bp = Blueprint("board", __name__)

PAGE_SIZE = 500


def _scrutin(code: str) -> Scrutin:
    scrutin = (
        get_session()
        .execute(select(Scrutin).where(Scrutin.code == code).options(selectinload(Scrutin.lists)))
        .scalar_one_or_none()
    )
    if scrutin is None:
        abort(404)
    return scrutin


@bp.get("/scrutins/<code>/urne")
def board(code: str) -> str:
    scrutin = _scrutin(code)
    session = get_session()
    info = election_info(session, scrutin)
    ceremony = session.get(KeyCeremony, scrutin.key_ceremony_id) if scrutin.key_ceremony_id else None
    count = session.execute(
        select(func.count()).select_from(Ballot).where(Ballot.scrutin_id == scrutin.id, Ballot.mixed.is_(True))
    ).scalar_one()
    asked = request.args.get("recu", "").strip()
    checked: dict[str, object] | None = None
    if asked:
        digest = parse_display_code(asked)
        if digest is None:
            checked = {"ok": False, "message": "Ce code n'a pas la forme d'un code de suivi (52 lettres et chiffres)."}
        else:
            mixed = session.execute(
                select(Ballot.mixed).where(Ballot.scrutin_id == scrutin.id, Ballot.tracking_code == digest)
            ).scalar_one_or_none()
            checked = {"ok": mixed is not None, "listed": bool(mixed), "code": display_code(digest)}
    after = parse_display_code(request.args.get("apres", "")) or b""
    codes = (
        session.execute(
            select(Ballot.tracking_code)
            .where(Ballot.scrutin_id == scrutin.id, Ballot.mixed.is_(True), Ballot.tracking_code > after)
            .order_by(Ballot.tracking_code)
            .limit(PAGE_SIZE + 1)
        )
        .scalars()
        .all()
    )
    tally = session.get(Tally, scrutin.id)
    result = json.loads(tally.result) if tally is not None and tally.result else None
    return render_template(
        "portal/board.html",
        scrutin=scrutin,
        info=info,
        election_fingerprint=fingerprint(info.hash) if info else None,
        ceremony=ceremony,
        count=int(count),
        checked=checked,
        asked=asked,
        codes=[display_code(bytes(c)) for c in codes[:PAGE_SIZE]],
        next_after=display_code(bytes(codes[PAGE_SIZE - 1])) if len(codes) > PAGE_SIZE else None,
        tally=tally,
        result=result,
    )


@bp.get("/scrutins/<code>/urne/dossier.jsonl")
def record(code: str) -> Response:
    """The election record (JSON lines), once the scrutin is counted."""
    try:
        lines = election_record(get_db(), code)
    except RecordUnavailable:
        abort(404)
    response = Response(stream_with_context(lines), mimetype="application/jsonl")
    response.headers["Content-Disposition"] = f'attachment; filename="dossier-{code}.jsonl"'
    return response
