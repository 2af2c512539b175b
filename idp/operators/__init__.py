"""Operator accounts: people who sign in to the IdP like voters, are on no roll, and may read the operators'
console (``operator_console``): turnout, sign-ins, réassort, delivery, lockouts."""
