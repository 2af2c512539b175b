"""``python -m fc_dev_provider``: the same commands as ``fc-dev-provider``."""

from __future__ import annotations

from fc_dev_provider.cli import main

main()
