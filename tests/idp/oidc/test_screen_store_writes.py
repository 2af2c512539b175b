"""``/authorize`` answering with a sign-in screen sends its store writes together (:meth:`EphemeralStore.batched`):
the waiting request and the screen's CAPTCHA challenge, new random keys nobody else knows before the page leaves.
On Redis: the identifier page's answer is one round trip (those two writes held until the session's write, which
carries them: :mod:`infra.sessions`) where it was three; the vote-code step's three (the session's read, the two
writes with the lock's read, the session's write) where it was five. What the page needs is stored all the same:
its CAPTCHA image is served and its form resumes the request.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import redis.connection

from idp.auth.state import ACR_VOTE_CODE
from tests.helpers import TEST_CAPTCHA, captcha_id_of, csrf_of
from tests.idp.votecode.test_oidc import issue
from tests.oidc_helpers import query_of, shows_identifier_page, shows_vote_code_page, vote_code_action

pytest_plugins = ["tests.oidc_fixtures"]
HANDSHAKE = (b"*2\r\n$5\r\nHELLO", b"*5\r\n$6\r\nCLIENT", b"*4\r\n$6\r\nCLIENT", b"*3\r\n$6\r\nCLIENT")


@contextlib.contextmanager
def round_trips() -> Iterator[list[bytes]]:
    """The Redis round trips of this process while inside (a command or a pipeline sent each)."""
    sent: list[bytes] = []
    original = redis.connection.AbstractConnection.send_packed_command

    def send(connection: object, command: object, *args: object, **kwargs: object) -> object:
        packed = b"".join(command) if isinstance(command, list) else bytes(command)  # type: ignore[arg-type]
        if not packed.startswith(HANDSHAKE):  # a new connection's own commands
            sent.append(packed)
        return original(connection, command, *args, **kwargs)  # type: ignore[arg-type]

    redis.connection.AbstractConnection.send_packed_command = send  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        redis.connection.AbstractConnection.send_packed_command = original  # type: ignore[method-assign]


def test_the_identifier_page_sends_the_request_and_its_captcha_in_one_round_trip(app, backend, flow, rp, voters):
    voter = voters.create()
    with round_trips() as sent:
        page, _, _ = flow.start(rp)
    assert shows_identifier_page(page)
    if backend.redis_url:
        assert len(sent) == 1, sent
        assert all(part in sent[0] for part in (b":oidc:tx:authorize:", b":captcha:", b":session:"))
    assert flow.client.get(f"/captcha/{captcha_id_of(page)}.png").status_code == 200
    final = flow.follow_to_client(page, voter)
    assert "code" in query_of(final.headers["Location"])


def test_the_vote_code_step_sends_its_writes_with_the_lock_read(app, backend, flow, rp, voters):
    voter = voters.create()
    printed = issue(app, voter)
    flow.tokens(rp, voter)  # signed in at the password level
    with round_trips() as sent:
        page, _, _ = flow.start(rp, acr_values=ACR_VOTE_CODE)
    assert shows_vote_code_page(page)
    if backend.redis_url:
        assert len(sent) == 3, sent
        assert all(part in sent[1] for part in (b":oidc:tx:authorize:", b":captcha:", b"PTTL"))
    captcha = captcha_id_of(page)
    assert flow.client.get(f"/captcha/{captcha}.png").status_code == 200
    form = {"csrf_token": csrf_of(page), "captcha_id": captcha, "captcha": TEST_CAPTCHA, "code": printed}
    answer = flow.client.post(vote_code_action(page), data=form)
    assert answer.status_code == 302 and "code" in query_of(answer.headers["Location"])
