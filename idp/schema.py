"""Every table of the IdP: the shared models and each feature's own, on one ``MetaData``.

The models package is the bottom layer and imports no feature, so a feature's tables are registered only when its
models module is imported; the migrations and the test that compares the models with them read :data:`metadata`
from here.
"""

from __future__ import annotations

import idp.oidc.models
import idp.votecode.models  # noqa: F401 - registers the vote_code table
from idp.models import Base

metadata = Base.metadata

__all__ = ["metadata"]
