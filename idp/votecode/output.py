"""The output directory of a print run: files only the operator can read, published all at once.

Notices hold every voter's vote code in clear, so each file is created ``0600`` (and a new directory ``0700``)
from the first byte, never chmod-ed afterwards. Files are written under a ``.part`` name and renamed once the
codes are committed: a run that fails leaves no notice whose code the database does not hold.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

PART_SUFFIX = ".part"


class OutputNotEmptyError(RuntimeError):
    pass


class SecretOutput:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._created: list[Path] = []
        if directory.exists():
            if not directory.is_dir():
                raise OutputNotEmptyError(f"{directory} existe et n'est pas un dossier")
            if any(directory.iterdir()):
                # Mixing two runs would leave notices whose codes were replaced by the second one.
                raise OutputNotEmptyError(f"le dossier {directory} n'est pas vide : choisissez un dossier neuf")
        else:
            directory.mkdir(mode=0o700, parents=True)

    def create(self, name: str) -> BinaryIO:
        """A new file, readable and writable by its owner only, under its temporary name."""
        if "/" in name or name.startswith("."):
            raise ValueError(f"bad output file name {name!r}")
        path = self.directory / (name + PART_SUFFIX)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._created.append(path)
        return os.fdopen(fd, "wb")

    @property
    def names(self) -> list[str]:
        return [path.name.removesuffix(PART_SUFFIX) for path in self._created]

    def publish(self) -> list[Path]:
        """Give every file its final name (call after the codes are committed)."""
        final = []
        for path in self._created:
            target = path.with_name(path.name.removesuffix(PART_SUFFIX))
            path.rename(target)
            final.append(target)
        self._created = []
        return final

    def discard(self) -> None:
        """Remove what was written (the run failed: these codes were never stored)."""
        for path in self._created:
            path.unlink(missing_ok=True)
        self._created = []
