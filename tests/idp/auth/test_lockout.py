"""Throttling per identifier and per client address, temporary lockout, all shared through the ephemeral store."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from idp.db import get_db
from idp.models import AuditEvent
from tests.helpers import AuthActions

LOCK_TEXT = "temporairement suspendue"


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "LOCKOUT_THRESHOLD": 3, "LOCKOUT_DURATION": 600, "IP_FAILURE_THRESHOLD": 6}


def locked_events(app) -> list[str]:
    with get_db(app).transaction() as session:
        return [e.data for e in session.execute(select(AuditEvent).where(AuditEvent.type == "login.locked")).scalars()]


def test_identifier_is_locked_after_repeated_failures(app, client, voters, auth):
    voter = voters.create()
    for _ in range(2):
        assert auth.login(voter.identifier, "wrong password 0001").status_code == 401
    third = auth.login(voter.identifier, "wrong password 0001")
    assert LOCK_TEXT in third.get_data(as_text=True)
    # Even the right password is refused while the lock lasts, with the time to wait.
    locked = auth.login(voter.identifier)
    assert locked.status_code == 401
    html = locked.get_data(as_text=True)
    assert LOCK_TEXT in html and "Réessayez dans 10\u00a0minutes." in html
    assert len(locked_events(app)) == 1
    assert "identifier" in locked_events(app)[0]


def test_unknown_identifiers_are_locked_the_same_way(app, client, auth):
    for _ in range(3):
        response = auth.login("personne.inconnue@ac-exemple.fr", "wrong password 0001")
    assert LOCK_TEXT in response.get_data(as_text=True)


def test_success_resets_the_failure_count(app, client, voters, auth):
    voter = voters.create()
    for _ in range(2):
        auth.login(voter.identifier, "wrong password 0001")
    assert auth.login(voter.identifier).status_code == 302
    client.post("/logout")
    for _ in range(2):
        assert LOCK_TEXT not in auth.login(voter.identifier, "wrong password 0001").get_data(as_text=True)


def test_client_address_is_throttled_across_identifiers(app, client, voters, auth):
    target = voters.create()
    for n in range(6):
        auth.login(f"essai.{n}@ac-exemple.fr", "wrong password 0001")
    response = auth.login(target.identifier)
    assert response.status_code == 401
    assert LOCK_TEXT in response.get_data(as_text=True)
    assert any("address" in data for data in locked_events(app))
    # Another client address is not affected.
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "192.0.2.77"
    assert AuthActions(other).login(target.identifier).status_code == 302


def test_lockout_is_shared_by_two_instances(app, make_app, voters, auth):
    """Two processes (here two app instances on one database and store) see the same counters."""
    voter = voters.create()
    second = make_app()
    other = AuthActions(second.test_client())
    auth.login(voter.identifier, "wrong password 0001")
    other.login(voter.identifier, "wrong password 0001")
    auth.login(voter.identifier, "wrong password 0001")
    assert LOCK_TEXT in other.login(voter.identifier).get_data(as_text=True)


class _Recording:
    """The app's store, recording the verbs called on the throttle's keys (failure counts and locks)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        verb = getattr(self.inner, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            if args and isinstance(args[0], str) and args[0].startswith(("fail:", "lock:")):
                self.calls.append(name)
            return verb(*args, **kwargs)

        return call


def test_the_password_check_looks_at_the_locks_and_counts_the_try_in_one_store_call(app, client, voters, auth):
    """The identifier's and the address's locks, the try's reservation: one round trip (one Redis script), where
    there were four (two lock checks, the count, the lock checked again). A success then resets the count."""
    voter = voters.create()
    recording = _Recording(app.extensions["infra.store"])
    app.extensions["infra.store"] = recording
    assert auth.login(voter.identifier, "wrong password 0001").status_code == 401
    assert recording.calls[0] == "incr_unless"  # then the failure's own counting and the lock's time left
    recording.calls.clear()
    assert auth.login(voter.identifier).status_code == 302
    assert recording.calls == ["incr_unless", "delete"]


def test_a_success_resets_the_count_without_a_round_trip_of_its_own(app, backend, voters, auth, monkeypatch):
    """The count's removal is held (``delete(..., deferrable=True)``) and travels with the request's next store
    call, here the session's write; the count starts again all the same."""
    import redis.connection

    voter = voters.create()
    assert auth.login(voter.identifier, "wrong password 0001").status_code == 401
    assert auth.login(voter.identifier, "wrong password 0001").status_code == 401
    sent: list[bytes] = []
    original = redis.connection.AbstractConnection.send_packed_command

    def send(connection: object, command: object, *args: object, **kwargs: object) -> object:
        sent.append(b"".join(command) if isinstance(command, list) else bytes(command))  # type: ignore[arg-type]
        return original(connection, command, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", send)
    assert auth.login(voter.identifier).status_code == 302
    monkeypatch.undo()
    if backend.redis_url:
        resets = [packed for packed in sent if b":fail:login:identifier:" in packed and b"DEL" in packed]
        assert len(resets) == 1 and b":session:" in resets[0], "with the session's write, in one round trip"
    again = AuthActions(app.test_client())
    for _ in range(2):  # two failures after the success: under the threshold of 3 again (were it not reset: locked)
        response = again.login(voter.identifier, "wrong password 0001")
        assert response.status_code == 401 and LOCK_TEXT not in response.get_data(as_text=True)
