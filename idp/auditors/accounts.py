"""Auditor accounts (``idp auditors``): the staff accounts of role "auditor" (:mod:`idp.staff.accounts`), which may
read the audit log through the auditors' console."""

from __future__ import annotations

from idp.staff.accounts import AUDITORS

add_auditor = AUDITORS.add
list_auditors = AUDITORS.list
reset_auditor = AUDITORS.reset
remove_auditor = AUDITORS.remove
