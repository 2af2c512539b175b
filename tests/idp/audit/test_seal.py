"""Sealing: ``idp audit seal`` signs a checkpoint of every chain's head; ``idp audit verify --checkpoint`` then
catches what the hash chains alone cannot (the last events deleted, events rewritten with recomputed hashes), a
forged or altered checkpoint, and seals that disagree with each other, naming the first failure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from idp.audit.checkpoint_format import parse
from idp.audit.log import verify
from idp.audit.sealkey import generate_private_key, key_id, load_public_key, public_pem
from idp.db import get_db
from idp.models import AuditEvent, AuditSeal
from tests.idp.audit.helpers import SealKey, chain_events, cli, record_events, rewrite_chain


def seal_to(app, key: SealKey, path: Path) -> dict:
    result = cli(app, "audit", "seal", "--key-file", str(key.private), "--output", str(path))
    assert result.exit_code == 0, result.output
    return json.loads(path.read_text(encoding="ascii"))


def verify_cli(app, key: SealKey, *checkpoints: Path):
    flags = [arg for path in checkpoints for arg in ("--checkpoint", str(path))]
    return cli(app, "audit", "verify", "--public-key", str(key.public), *flags)


def test_seal_signs_every_chain_head_and_verifies(app, seal_key, tmp_path):
    record_events(app, 5, chains=3)
    heads = {}
    for chain in range(3):
        events = chain_events(app, chain)
        if events:
            heads[chain] = (events[-1].seq, events[-1].hash)
    document = seal_to(app, seal_key, tmp_path / "sceau-1.json")
    assert document["counter"] == 1 and document["previous"] is None and document["alg"] == "Ed25519"
    assert document["issuer"] == "http://localhost"
    assert {h["chain"]: (h["seq"], h["hash"]) for h in document["chains"]} == heads
    assert document["key_id"] == key_id(load_public_key(seal_key.public))
    with get_db(app).transaction() as session:
        stored = session.execute(select(AuditSeal)).scalar_one()
        assert stored.counter == 1 and parse(stored.document).digest == parse(json.dumps(document)).digest
        sealed_events = session.execute(select(func.count()).where(AuditEvent.type == "audit.sealed")).scalar_one()
        assert sealed_events == 1, "sealing is itself audited"
    checked = verify_cli(app, seal_key, tmp_path / "sceau-1.json")
    assert checked.exit_code == 0, checked.output
    assert "1 checkpoint(s) verified" in checked.stdout
    # A second seal follows the first: counter 2, previous = digest of the first.
    record_events(app, 2, chains=3, start=10)
    second = seal_to(app, seal_key, tmp_path / "sceau-2.json")
    assert second["counter"] == 2 and second["previous"] == parse(json.dumps(document)).digest
    both = verify_cli(app, seal_key, tmp_path / "sceau-2.json", tmp_path / "sceau-1.json")
    assert both.exit_code == 0 and "2 checkpoint(s) verified" in both.stdout


def test_the_sealed_event_records_what_was_sealed(make_app, seal_key, tmp_path):
    """``chains`` is a detail of ``audit.sealed`` (how many chains the checkpoint names), not the number of chains
    the event may be written to: it lands on any of ``IDP_AUDIT_CHAINS``, with every detail the vocabulary names."""
    app = make_app(AUDIT_CHAINS=1)  # bound to the database's sessions when the app is built
    record_events(app, 4, chains=1)
    document = seal_to(app, seal_key, tmp_path / "sceau.json")
    [sealed] = [e for e in chain_events(app, 0) if e.type == "audit.sealed"]
    assert json.loads(sealed.data) == {
        "chains": len(document["chains"]),
        "counter": 1,
        "events": 4,
        "key_id": document["key_id"],
    }


def test_deleting_the_last_sealed_events_is_caught(app, seal_key, tmp_path):
    record_events(app, 5)
    seal_to(app, seal_key, tmp_path / "sceau.json")
    last = [e for e in chain_events(app, 0) if e.type == "login.succeeded"][-1]
    with get_db(app).transaction() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.chain == 0, AuditEvent.seq >= last.seq))
    assert verify(get_db(app).engine).ok, "the shorter chain verifies by itself: the documented limit"
    checked = verify_cli(app, seal_key, tmp_path / "sceau.json")
    assert checked.exit_code == 1
    assert (
        f"checkpoint 1: chain 0, seq {last.seq} is missing (the chain now ends at seq {last.seq - 1})" in checked.stderr
    )
    assert "sealed events were deleted" in checked.stderr


def test_rewriting_with_recomputed_hashes_is_caught(app, seal_key, tmp_path):
    record_events(app, 6)
    head = chain_events(app, 0)[-1]
    seal_to(app, seal_key, tmp_path / "sceau.json")
    rewrite_chain(app, 0, 3, '{"rang":42}')
    assert verify(get_db(app).engine).ok, "recomputed hashes verify by themselves: the documented limit"
    checked = verify_cli(app, seal_key, tmp_path / "sceau.json")
    assert checked.exit_code == 1
    assert f"chain 0, seq {head.seq} no longer has the sealed hash" in checked.stderr


@pytest.mark.parametrize("how", ["hash", "counter", "other-key", "not-json"])
def test_a_forged_or_altered_checkpoint_is_refused(app, seal_key, tmp_path, how):
    record_events(app, 3)
    path = tmp_path / "sceau.json"
    document = seal_to(app, seal_key, path)
    if how == "hash":
        document["chains"][0]["hash"] = "0" * 64
        path.write_text(json.dumps(document), encoding="ascii")
        expected = "the signature does not match its content"
    elif how == "counter":
        document["counter"] = 7
        path.write_text(json.dumps(document), encoding="ascii")
        expected = "the signature does not match its content"
    elif how == "other-key":
        other = generate_private_key(tmp_path / "autre-cle.pem")
        (tmp_path / "autre-cle.pub").write_text(public_pem(other.public_key()), encoding="ascii")
        checked = cli(
            app, "audit", "verify", "--public-key", str(tmp_path / "autre-cle.pub"), "--checkpoint", str(path)
        )
        assert checked.exit_code == 1 and "names another key" in checked.stderr
        return
    else:
        path.write_text("{pas du json", encoding="ascii")
        expected = "not a checkpoint (not JSON)"
    checked = verify_cli(app, seal_key, path)
    assert checked.exit_code == 1 and expected in checked.stderr, checked.stderr


def test_checkpoints_that_disagree_are_named(app, seal_key, tmp_path):
    """A chain cut between two seals (the second seal is lower) and a lost seal in the sequence."""
    record_events(app, 4)
    seal_to(app, seal_key, tmp_path / "sceau-1.json")
    cut = chain_events(app, 0)[-3]
    with get_db(app).transaction() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.chain == 0, AuditEvent.seq >= cut.seq))
    seal_to(app, seal_key, tmp_path / "sceau-2.json")
    checked = verify_cli(app, seal_key, tmp_path / "sceau-1.json", tmp_path / "sceau-2.json")
    assert checked.exit_code == 1
    assert "the chain was cut between the two seals" in checked.stderr.splitlines()[0]
    # Seals 1 and 3 without 2 are fine (not consecutive); a 3 that does not follow the given 2 is not.
    seal_to(app, seal_key, tmp_path / "sceau-3.json")
    document = json.loads((tmp_path / "sceau-3.json").read_text(encoding="ascii"))
    assert document["counter"] == 3
    with get_db(app).transaction() as session:
        session.execute(delete(AuditSeal).where(AuditSeal.counter >= 2))
    replay = seal_to(app, seal_key, tmp_path / "sceau-2-bis.json")
    assert replay["counter"] == 2, "the stored seals were deleted: the counter goes back"
    forked = verify_cli(app, seal_key, tmp_path / "sceau-2.json", tmp_path / "sceau-2-bis.json")
    assert forked.exit_code == 1 and "two different checkpoints carry the number 2" in forked.stderr
    broken = verify_cli(app, seal_key, tmp_path / "sceau-2-bis.json", tmp_path / "sceau-3.json")
    assert broken.exit_code == 1 and "checkpoint 3 does not follow checkpoint 2" in broken.stderr


def test_seal_commands_refuse_what_they_cannot_do(app, seal_key, tmp_path, monkeypatch):
    record_events(app, 1)
    no_key = cli(app, "audit", "verify", "--checkpoint", str(seal_key.public))
    assert no_key.exit_code == 2 and "--public-key" in no_key.output
    assert cli(app, "audit", "seal", "--key-file", str(seal_key.public)).exit_code == 1
    existing = tmp_path / "deja-la.json"
    existing.write_text("{}", encoding="ascii")
    refused = cli(app, "audit", "seal", "--key-file", str(seal_key.private), "--output", str(existing))
    assert refused.exit_code == 1 and "already exists" in refused.output
    with get_db(app).transaction() as session:
        assert session.execute(select(func.count()).select_from(AuditSeal)).scalar_one() == 0, (
            "a seal that could not be written is not recorded either"
        )
    again = cli(app, "audit", "seal-key", "--key-file", str(seal_key.private), "--generate")
    assert again.exit_code == 1 and "never overwritten" in again.output
    # Plain verification never needs the key, even when IDP_AUDIT_SEAL_KEY_FILE names a file absent here.
    monkeypatch.setenv("IDP_AUDIT_SEAL_KEY_FILE", str(tmp_path / "absente.pem"))
    assert cli(app, "audit", "verify").exit_code == 0
    missing = cli(app, "audit", "seal")
    assert missing.exit_code == 1 and "cannot read the seal key file" in missing.output
    # The key file comes from IDP_AUDIT_SEAL_KEY_FILE; seal-key prints the public key the auditors keep.
    monkeypatch.setenv("IDP_AUDIT_SEAL_KEY_FILE", str(seal_key.private))
    printed = cli(app, "audit", "seal-key")
    assert printed.exit_code == 0 and printed.stdout == seal_key.public_pem
    to_stdout = cli(app, "audit", "seal")
    assert to_stdout.exit_code == 0 and json.loads(to_stdout.stdout)["counter"] == 1
    assert "checkpoint 1 sealed" in to_stdout.stderr
    fresh = tmp_path / "nouvelle-cle.pem"
    generated = cli(app, "audit", "seal-key", "--key-file", str(fresh), "--generate")
    assert generated.exit_code == 0 and oct(fresh.stat().st_mode & 0o777) == "0o600"
