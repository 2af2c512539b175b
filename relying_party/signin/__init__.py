"""Signing voters in through the IdP (OpenID Connect, Authlib's Flask client), the vote-code step, and logout."""
