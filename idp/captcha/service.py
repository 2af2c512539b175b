"""CAPTCHA challenges kept in the ephemeral store and rendered with the ``captcha`` library.

A challenge is a random id mapped to its answer for a few minutes. The image and the audio are drawn from the
stored answer; checking the answer consumes the challenge (take-once), so an answer is never accepted twice, even
by two processes at the same instant.
"""

from __future__ import annotations

import hmac
import secrets
from functools import cached_property

from captcha.audio import AudioCaptcha
from captcha.image import ImageCaptcha

from idp.store.interface import EphemeralStore

#: Digits only: readable on a phone, spoken by the audio CAPTCHA, typed on a numeric keypad.
ALPHABET = "0123456789"


class CaptchaService:
    def __init__(self, store: EphemeralStore, backend: str, ttl: int, length: int) -> None:
        self.store = store
        self.ttl = ttl
        self.length = length
        self.fixed_answer = backend.split(":", 1)[1] if backend.startswith("fixed:") else None

    @cached_property
    def _image(self) -> ImageCaptcha:
        return ImageCaptcha(width=220, height=80)

    @cached_property
    def _audio(self) -> AudioCaptcha:
        return AudioCaptcha()

    @staticmethod
    def _key(challenge_id: str) -> str:
        return f"captcha:{challenge_id}"

    def new_challenge(self) -> str:
        answer = self.fixed_answer or "".join(secrets.choice(ALPHABET) for _ in range(self.length))
        challenge_id = secrets.token_urlsafe(16)
        self.store.set(self._key(challenge_id), answer, self.ttl)
        return challenge_id

    def image(self, challenge_id: str) -> bytes | None:
        answer = self.store.get(self._key(challenge_id))
        if answer is None:
            return None
        return self._image.generate(answer, format="png").getvalue()

    def audio(self, challenge_id: str) -> bytes | None:
        answer = self.store.get(self._key(challenge_id))
        if answer is None:
            return None
        return bytes(self._audio.generate(answer))

    def check(self, challenge_id: str, answer: str) -> bool:
        """Consume the challenge and compare in constant time; a second call for the same id always fails."""
        if not challenge_id or len(challenge_id) > 64:
            return False
        expected = self.store.take(self._key(challenge_id))
        if expected is None:
            return False
        given = "".join(answer.split()).upper()
        return hmac.compare_digest(given.encode(), expected.upper().encode())
