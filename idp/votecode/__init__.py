"""Vote codes: issuing them (print-shop notices, réassort) and the vote-code step that raises a session to
:data:`idp.auth.state.ACR_VOTE_CODE`."""
