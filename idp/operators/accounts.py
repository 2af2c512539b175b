"""Operator accounts (``idp operators``): the staff accounts of role "operator" (:mod:`idp.staff.accounts`), which may
read the operators' console."""

from __future__ import annotations

from idp.staff.accounts import OPERATORS

add_operator = OPERATORS.add
list_operators = OPERATORS.list
reset_operator = OPERATORS.reset
remove_operator = OPERATORS.remove
