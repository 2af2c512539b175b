"""Staff accounts, one implementation for every staff role (auditors, operators): people who sign in to the IdP like
voters, are on no roll, and read one of the staff consoles. :mod:`idp.staff.accounts` creates, lists, resets and
removes them; :mod:`idp.staff.cli` builds the ``idp auditors …`` and ``idp operators …`` command groups from it."""
