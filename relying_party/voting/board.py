"""The public board of each scrutin (« Urne »): the election's fingerprint and key, the trustees, every tracking code
in the box ordered by code (never by time), « Vérifier mon reçu », and once counted, the result and the election
record. Public: no sign-in, nothing about voters.

A voter checks that their ballot is in the box by its tracking code; anyone can download the election record after
the tally and verify it with ``tools/verify_election_record.py``.
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
        select(func.count()).select_from(Ballot).where(Ballot.scrutin_id == scrutin.id)
    ).scalar_one()
    asked = request.args.get("recu", "").strip()
    checked: dict[str, object] | None = None
    if asked:
        digest = parse_display_code(asked)
        if digest is None:
            checked = {"ok": False, "message": "Ce code n'a pas la forme d'un code de suivi (52 lettres et chiffres)."}
        else:
            found = session.execute(
                select(Ballot.tracking_code).where(Ballot.scrutin_id == scrutin.id, Ballot.tracking_code == digest)
            ).first()
            checked = {"ok": found is not None, "code": display_code(digest)}
    after = parse_display_code(request.args.get("apres", "")) or b""
    codes = (
        session.execute(
            select(Ballot.tracking_code)
            .where(Ballot.scrutin_id == scrutin.id, Ballot.tracking_code > after)
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
