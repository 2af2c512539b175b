"""Voter sign-in: identifier + CAPTCHA, election password, activation, sign-out."""
