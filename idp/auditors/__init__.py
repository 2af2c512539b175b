"""What the IdP offers its auditors: their accounts (people who sign in to the IdP like voters, are on no roll, and
may read the audit log through the auditors' console, ``audit_console``) and the read-only views of the log the
console shows beside the chain itself (:mod:`idp.auditors.tokenview`: a token's life with what the token table
still knows of it)."""
