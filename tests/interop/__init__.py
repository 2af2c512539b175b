"""Interoperability tests: the IdP against OpenID Connect software written by others, over real HTTP."""
