"""Server-side CAPTCHA: single use, short-lived, image and audio (RGAA criterion 1.5)."""

from idp.captcha.service import CaptchaService

__all__ = ["CaptchaService"]
