"""Server-side CAPTCHA: single use, short-lived, image and audio (RGAA criterion 1.5); the service itself is the
suite's shared one (``captcha_challenge``), this package serves its image and audio for the IdP."""

from captcha_challenge import CaptchaService

__all__ = ["CaptchaService"]
