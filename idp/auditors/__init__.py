"""Auditor accounts: people who sign in to the IdP like voters, are on no roll, and may read the audit log through
the auditors' console (``audit_console``)."""
