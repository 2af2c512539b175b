"""The server-side CAPTCHA: single use, short-lived, an image and a French audio alternative (RGAA 1.5)."""

from __future__ import annotations

import io
import logging
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from captcha_challenge.service import ALPHABET, VOICES_DIR, CaptchaService
from idp import config as config_module
from idp import create_app
from idp.captcha import get_captcha
from idp.db import make_engine
from idp.store import build_store, get_store
from infra.store.sql import SQLStore
from tests.helpers import TEST_CAPTCHA, captcha_id_of, csrf_of

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _is_wav(data: bytes) -> bool:
    if not (data[:4] == b"RIFF" and data[8:12] == b"WAVE"):
        return False
    with wave.open(io.BytesIO(data)) as audio:
        return audio.getnframes() > 0


def _new_challenge(app: Flask) -> str:
    with app.app_context():
        return get_captcha().new_challenge()


# --- image and audio ---------------------------------------------------------------------------------------------


def test_image_is_a_png_not_cached(client, app):
    challenge = captcha_id_of(client.get("/login"))
    response = client.get(f"/captcha/{challenge}.png")
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.data.startswith(PNG_MAGIC)
    assert response.headers["Cache-Control"] == "no-store"


def test_image_and_audio_read_their_challenge_and_not_the_session(client, app, monkeypatch):
    """A signed-in voter's browser sends its session cookie with the image's request: the route reads the
    challenge from the store and nothing else (the session is neither read nor written back)."""
    page = client.get("/login")
    challenge = captcha_id_of(page)
    assert client.get_cookie(app.config["SESSION_COOKIE_NAME"]) is not None, "the voter has a session"
    store = app.session_interface.store
    with app.app_context():
        assert get_captcha().store is store
    read = []
    original = store.get
    monkeypatch.setattr(store, "get", lambda key: read.append(key) or original(key))
    for suffix in ("png", "wav"):
        answer = client.get(f"/captcha/{challenge}.{suffix}")
        assert answer.status_code == 200 and "Set-Cookie" not in answer.headers
    assert read == [f"captcha:{challenge}"] * 2
    form = {"csrf_token": csrf_of(page), "identifier": "camille.testeur@ac-exemple.fr", "captcha_id": challenge}
    assert client.post("/login", data={**form, "captcha": TEST_CAPTCHA}).status_code == 302, "the session is intact"


def test_the_image_answered_before_flask_is_the_route_s_answer(client, app, monkeypatch, caplog):
    """The image's GET is answered before Flask (captcha_challenge.views.image_before_flask): the same status and
    headers as the blueprint's route, a PNG of the challenge, the same request line; the route still answers
    whatever the first answer leaves to it (HEAD here; unknown challenges and outages in the tests above)."""
    challenges = [captcha_id_of(client.get("/login")) for _ in range(3)]

    def not_reached(challenge_id: str) -> None:
        raise AssertionError("Flask's route was reached")

    with monkeypatch.context() as patched:
        patched.setitem(app.view_functions, "captcha.image", not_reached)
        with caplog.at_level(logging.INFO, logger="elections.request"):
            early = client.get(f"/captcha/{challenges[0]}.png")
    assert early.status_code == 200 and early.data.startswith(PNG_MAGIC)
    lines = [record for record in caplog.records if record.name == "elections.request"]
    assert lines[-1].getMessage() == "GET /captcha/<challenge_id>.png 200"
    monkeypatch.setattr(app.wsgi_app, "first", None)  # every request to Flask
    routed = client.get(f"/captcha/{challenges[1]}.png")
    assert routed.status_code == 200 and routed.data.startswith(PNG_MAGIC)

    def headers_of(answer) -> list[tuple[str, str]]:
        return [
            (name, value) for name, value in answer.headers.items() if name not in ("Content-Length", "X-Request-Id")
        ]

    assert headers_of(early) == headers_of(routed)
    assert int(early.headers["Content-Length"]) == len(early.data)
    head = client.head(f"/captcha/{challenges[2]}.png")
    assert head.status_code == 200 and head.data == b""


def test_audio_is_a_wav_not_cached(client, app):
    challenge = captcha_id_of(client.get("/login"))
    response = client.get(f"/captcha/{challenge}.wav")
    assert response.status_code == 200
    assert response.mimetype == "audio/wav"
    assert _is_wav(response.data)
    assert response.headers["Cache-Control"] == "no-store"


def test_unknown_challenge_is_404(client):
    assert client.get("/captcha/inconnu.png").status_code == 404
    assert client.get("/captcha/inconnu.wav").status_code == 404


def test_consumed_challenge_is_404(client, app):
    page = client.get("/login")
    challenge = captcha_id_of(page)
    client.post(
        "/login",
        data={
            "csrf_token": csrf_of(page),
            "identifier": "camille.testeur@ac-exemple.fr",
            "captcha_id": challenge,
            "captcha": TEST_CAPTCHA,
        },
    )
    assert client.get(f"/captcha/{challenge}.png").status_code == 404
    assert client.get(f"/captcha/{challenge}.wav").status_code == 404


# --- checking an answer ------------------------------------------------------------------------------------------


def test_answer_is_accepted_once_only(app):
    challenge = _new_challenge(app)
    with app.app_context():
        assert get_captcha().check(challenge, TEST_CAPTCHA) is True
        assert get_captcha().check(challenge, TEST_CAPTCHA) is False


def test_replayed_answer_is_refused_by_the_sign_in_form(client):
    page = client.get("/login")
    form = {
        "csrf_token": csrf_of(page),
        "identifier": "camille.testeur@ac-exemple.fr",
        "captcha_id": captcha_id_of(page),
        "captcha": TEST_CAPTCHA,
    }
    assert client.post("/login", data=form).status_code == 302
    # Another identifier with the used answer (the same form sent again is a double click: test_identifier_twin.py).
    replay = client.post("/login", data={**form, "identifier": "dominique.testeur@ac-exemple.fr"})
    assert replay.status_code == 400
    assert "Le code de sécurité (CAPTCHA) est incorrect ou a expiré." in replay.get_data(as_text=True)


def test_wrong_answer_is_refused_and_consumes_the_challenge(app):
    challenge = _new_challenge(app)
    with app.app_context():
        assert get_captcha().check(challenge, "00000") is False
        assert get_captcha().check(challenge, TEST_CAPTCHA) is False, "a second try on the same image is refused"
        assert get_captcha().image(challenge) is None


def test_answer_ignores_spaces(app):
    challenge = _new_challenge(app)
    with app.app_context():
        assert get_captcha().check(challenge, " 12 345 ") is True


def test_expired_challenge_is_refused(app):
    with app.app_context():
        short_lived = CaptchaService(get_store(), app.config["CAPTCHA_BACKEND"], ttl=1, length=5)
        challenge = short_lived.new_challenge()
        time.sleep(1.2)
        assert short_lived.image(challenge) is None
        assert short_lived.audio(challenge) is None
        assert short_lived.check(challenge, TEST_CAPTCHA) is False


def test_empty_or_oversized_ids_are_refused(app):
    with app.app_context():
        assert get_captcha().check("", TEST_CAPTCHA) is False
        assert get_captcha().check("x" * 65, TEST_CAPTCHA) is False


def test_image_backend_draws_random_digit_answers(app):
    with app.app_context():
        service = CaptchaService(get_store(), "image", ttl=60, length=5)
        challenges = [service.new_challenge() for _ in range(5)]
        answers = [get_store().get(f"captcha:{challenge}") for challenge in challenges]
    assert all(answer is not None and len(answer) == 5 and set(answer) <= set(ALPHABET) for answer in answers)
    assert len(set(answers)) > 1, "answers are random, not fixed"
    assert len(set(challenges)) == 5


# --- the fixed backend is for development and tests only --------------------------------------------------------

_PRODUCTION_ENV = {
    "IDP_ENV": "production",
    "IDP_SECRET_KEY": "s" * 40,
    "IDP_HMAC_KEY": "h" * 40,
    "IDP_KEY_ENCRYPTION_KEY": "k" * 40,
    "IDP_CAPTCHA_BACKEND": "fixed:12345",
}


def test_fixed_backend_is_refused_in_production(tmp_path):
    environ = {**_PRODUCTION_ENV, "IDP_DATABASE_URL": f"sqlite:///{tmp_path / 'idp.sqlite3'}"}
    with pytest.raises(ValueError, match="IDP_CAPTCHA_BACKEND=fixed"):
        create_app(environ=environ)
    settings = config_module.load(environ)
    with pytest.raises(ValueError, match="IDP_CAPTCHA_BACKEND=fixed"):
        config_module.validate(settings)
    assert not (tmp_path / "idp.sqlite3").exists(), "refused before touching the database"


@pytest.mark.parametrize("env", ["development", "testing"])
def test_fixed_backend_is_accepted_outside_production(env):
    config_module.validate(config_module.load({**_PRODUCTION_ENV, "IDP_ENV": env}))


def test_image_backend_is_accepted_in_production():
    config_module.validate(config_module.load({**_PRODUCTION_ENV, "IDP_CAPTCHA_BACKEND": "image"}))


# --- the French voice ----------------------------------------------------------------------------------------------


def test_french_voices_cover_every_digit_in_the_library_format():
    assert VOICES_DIR.parts[-2:] == ("voices", "fr")
    for digit in ALPHABET:
        recordings = sorted((VOICES_DIR / digit).glob("*.wav"))
        assert recordings, f"no French recording for {digit}"
        for recording in recordings:
            # AudioCaptcha copies samples as they are under a fixed 8 kHz / mono / 8-bit header.
            with wave.open(str(recording)) as audio:
                assert (audio.getframerate(), audio.getnchannels(), audio.getsampwidth()) == (8000, 1, 1)
                assert 0.1 < audio.getnframes() / 8000 < 1.5
    assert sorted(p.name for p in VOICES_DIR.iterdir()) == sorted(ALPHABET)


@pytest.fixture
def one_digit_captcha(tmp_path: Path) -> Iterator[CaptchaService]:
    """A service outside any app, on the SQL store over SQLite, whose challenges are all "7"."""
    engine = make_engine(f"sqlite:///{tmp_path / 'idp.sqlite3'}")
    store = build_store({}, engine)
    yield CaptchaService(store, "fixed:7", ttl=60, length=1)
    assert isinstance(store, SQLStore)
    store.engine.dispose()
    engine.dispose()


def test_audio_speaks_the_french_recordings(one_digit_captcha):
    library = one_digit_captcha._audio
    assert Path(library._voicedir) == VOICES_DIR, "the library's bundled English voice must not be used"
    # Every voice is loaded before the first audio is drawn: the library's own lazy loading is not thread-safe
    # (a second thread sees a partly filled cache as loaded and fails on a digit not read yet).
    assert sorted(library._cache) == sorted(ALPHABET)
    data = one_digit_captcha.audio(one_digit_captcha.new_challenge())
    assert data is not None and _is_wav(data)
    for digit in ALPHABET:
        assert len(library._cache[digit]) == len(list((VOICES_DIR / digit).glob("*.wav")))


def test_first_audio_requests_in_parallel_all_succeed(one_digit_captcha):
    service = one_digit_captcha
    challenges = [service.new_challenge() for _ in range(8)]
    results: list[bytes | None] = [None] * 8
    barrier = threading.Barrier(8)

    def fetch(index: int) -> None:
        barrier.wait(timeout=10)
        results[index] = service.audio(challenges[index])

    threads = [threading.Thread(target=fetch, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert all(data is not None and _is_wav(data) for data in results)
