"""Voting in the portal tests as the ballot page's script does: read the election from the page, encrypt the choice
with the same algorithm (:func:`votecrypto.encrypt_ballot`, cross-tested with the browser's module), post the
encrypted ballot with the page's CSRF token."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.test import TestResponse

from relying_party.db import get_db
from relying_party.models import Scrutin
from relying_party.voting.election import ElectionInfo, election_info
from relying_party.voting.receipts import receipt_key
from tests.relying_party.ceremony import TrusteeFiles, run_ceremony
from tests.relying_party.helpers import csrf_of, load
from votecrypto.ballot import Ballot, encrypt_ballot


def load_keyed(app: Flask, document: dict[str, Any], folder: Path, **kwargs: Any) -> list[TrusteeFiles]:
    """Import the scrutins and run a key ceremony for all of them."""
    load(app, document)
    return run_ceremony(app, folder, tuple(s["code"] for s in document["scrutins"]), **kwargs)


def info_of(app: Flask, code: str) -> ElectionInfo:
    with get_db(app).reader() as session:
        scrutin = session.execute(
            select(Scrutin).where(Scrutin.code == code).options(selectinload(Scrutin.lists))
        ).scalar_one()
        info = election_info(session, scrutin)
    assert info is not None
    return info


def encrypted(app: Flask, code: str, choice: int, nonce: bytes = b"\x00" * 32) -> Ballot:
    info = info_of(app, code)
    return encrypt_ballot(
        key=info.key,
        election=info.hash,
        nonce=nonce,
        options=info.options,
        choice=choice,
        proof_format=info.proof_format,
    )


def key_of(app: Flask) -> bytes:
    return receipt_key(app.config)


@dataclass(frozen=True)
class BallotPage:
    response: TestResponse
    key: str
    election: str
    nonce: str
    options: int
    csrf: str
    #: The election manifest's version (the page's data-format): the proofs' format.
    proof_format: int

    def encrypt(self, choice: int) -> Ballot:
        return encrypt_ballot(
            key=bytes.fromhex(self.key),
            election=bytes.fromhex(self.election),
            nonce=bytes.fromhex(self.nonce),
            options=self.options,
            choice=choice,
            proof_format=self.proof_format,
        )


def ballot_page(client: FlaskClient, code: str) -> BallotPage:
    page = client.get(f"/je-vote/{code}")
    assert page.status_code == 200, page.status_code
    html = page.get_data(as_text=True)

    def attribute(name: str) -> str:
        found = re.search(rf'data-{name}="([^"]+)"', html)
        assert found, name
        return found.group(1)

    return BallotPage(
        page,
        attribute("key"),
        attribute("election"),
        attribute("nonce"),
        int(attribute("options")),
        csrf_of(page),
        int(attribute("format")),
    )


def post_ballot(
    client: FlaskClient, code: str, page: BallotPage, ballot: Ballot | dict[str, Any] | str
) -> TestResponse:
    value = (
        ballot if isinstance(ballot, str) else json.dumps(ballot.to_json() if isinstance(ballot, Ballot) else ballot)
    )
    return client.post(f"/je-vote/{code}/bulletin", data={"csrf_token": page.csrf, "ballot": value})


def vote(client: FlaskClient, code: str, choice: int) -> TestResponse:
    page = ballot_page(client, code)
    return post_ballot(client, code, page, page.encrypt(choice))


#: The trustees of the ceremonies :func:`ensure_key` ran, by (application, scrutin).
TRUSTEES: dict[tuple[int, str], list[TrusteeFiles]] = {}


def ensure_key(app: Flask, scrutin_code: str) -> list[TrusteeFiles]:
    """Give the scrutin an election key (a ceremony of its own: 2 of 3 trustees) unless it has one."""
    import tempfile

    with get_db(app).reader() as session:
        has_key = session.execute(select(Scrutin.key_ceremony_id).where(Scrutin.code == scrutin_code)).scalar_one()
    if has_key is None:
        folder = Path(tempfile.mkdtemp(prefix="garants-"))
        TRUSTEES[(id(app), scrutin_code)] = run_ceremony(app, folder, (scrutin_code,), code=f"T-{scrutin_code}")
    return TRUSTEES[(id(app), scrutin_code)]


def trustee_decrypt(app: Flask, request: dict[str, Any], key_file: Path) -> dict[str, Any]:
    """``portal trustee decrypt``: the partial decryption, once the aggregate is recomputed from the record."""
    from relying_party.ceremony.trustee import decrypt
    from relying_party.elections.record import election_record
    from tests.relying_party.ceremony import PASSPHRASE

    partial, _ = decrypt(request, key_file, PASSPHRASE, election_record(get_db(app), str(request["scrutin"])))
    return partial


def count_with_trustees(
    app: Flask, scrutin_code: str, trustees: list[TrusteeFiles] | None = None, how_many: int = 2
) -> Any:
    """The tally as the bureau de vote runs it: the aggregate, then ``how_many`` trustees' partial decryptions."""
    from relying_party.elections.tally import tally
    from relying_party.models import utcnow

    chosen = (trustees or TRUSTEES[(id(app), scrutin_code)])[:how_many]
    _, request = tally(get_db(app), scrutin_code, utcnow())
    partials = [trustee_decrypt(app, request, t.key_file) for t in chosen]
    state, _ = tally(get_db(app), scrutin_code, utcnow(), partials=partials)
    return state


def choice_index(app: Flask, scrutin_code: str, candidate_list_id: int | None) -> int:
    """The option of a list (by its database id) on the ballot; None is blank (the last option)."""
    from relying_party.models import CandidateList

    with get_db(app).reader() as session:
        ids = list(
            session.execute(
                select(CandidateList.id)
                .join(Scrutin)
                .where(Scrutin.code == scrutin_code)
                .order_by(CandidateList.position)
            ).scalars()
        )
    return len(ids) if candidate_list_id is None else ids.index(candidate_list_id)


@dataclass(frozen=True)
class Cast:
    tracking_code: bytes

    @property
    def receipt(self) -> str:
        from votecrypto.ballot import display_code

        return display_code(self.tracking_code)


def cast_choice(
    app: Flask, *, scrutin_id: int, voter_identifier: str, candidate_list_id: int | None, now: Any, **kwargs: Any
) -> Cast:
    """Cast an encrypted ballot for a list (by id) or blank, as ``cast_ballot`` did with ballots in clear."""
    from relying_party.voting.service import cast_ballot

    with get_db(app).reader() as session:
        code = session.execute(select(Scrutin.code).where(Scrutin.id == scrutin_id)).scalar_one()
    ensure_key(app, code)
    ballot = encrypted(app, code, choice_index(app, code, candidate_list_id))
    result = cast_ballot(
        get_db(app),
        scrutin_id=scrutin_id,
        voter_identifier=voter_identifier,
        ballot=ballot,
        nonce=None,
        now=now,
        receipt_key=key_of(app),
        **kwargs,
    )
    return Cast(result.tracking_code)


def ballot_from_html(html: str, choice: int) -> str:
    """The encrypted ballot, as JSON, that the ballot page's script would post for ``choice``."""

    def attribute(name: str) -> str:
        found = re.search(rf'data-{name}="([^"]+)"', html)
        assert found, name
        return found.group(1)

    ballot = encrypt_ballot(
        key=bytes.fromhex(attribute("key")),
        election=bytes.fromhex(attribute("election")),
        nonce=bytes.fromhex(attribute("nonce")),
        options=int(attribute("options")),
        choice=choice,
        proof_format=int(attribute("format")),
    )
    return json.dumps(ballot.to_json())
