"""The CAPTCHA of the suite (image and French audio), shared by the IdP and the portal; it imports neither."""

from captcha_challenge.service import ALPHABET, VOICES_DIR, CaptchaService, ChallengeStore, normalise_answer

__all__ = ["ALPHABET", "VOICES_DIR", "CaptchaService", "ChallengeStore", "normalise_answer"]
