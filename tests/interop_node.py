"""Node.js for the interoperability tests (panva's openid-client in tests/interop, oidc-provider in
tests/idp/federation): the executable, and interop/node_modules with the pinned package (installed from
interop/package-lock.json with ``npm ci`` when missing).

``npm ci`` empties node_modules first: it runs under a lock file, so two test processes never run it at once."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

INTEROP_DIR = Path(__file__).resolve().parents[1] / "interop"
MIN_NODE_MAJOR = 20
NPM_TIMEOUT = 600


def pinned_version(package: str) -> str:
    manifest = json.loads((INTEROP_DIR / "package.json").read_text(encoding="utf-8"))
    return str(manifest["dependencies"][package])


def installed_version(package: str) -> str | None:
    path = INTEROP_DIR / "node_modules" / package / "package.json"
    if not path.exists():
        return None
    return str(json.loads(path.read_text(encoding="utf-8"))["version"])


def node_or_reason(package: str) -> str:
    """The path of ``node`` with ``package`` installed at its pinned version; raises LookupError(why) if not."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise LookupError("Node.js and npm are needed for the interoperability tests (not found on PATH)")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=False).stdout
    try:
        major = int(version.strip().lstrip("v").split(".")[0])
    except ValueError:
        raise LookupError(f"cannot read the Node.js version ({version.strip()!r})") from None
    if major < MIN_NODE_MAJOR:
        raise LookupError(f"Node.js {MIN_NODE_MAJOR} or later is needed (found {version.strip()})")
    lock_path = Path(tempfile.gettempdir()) / f"portail-elections-npm-{os.getuid()}.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if installed_version(package) == pinned_version(package):
            return node
        done = subprocess.run(
            [npm, "ci", "--prefix", str(INTEROP_DIR), "--no-audit", "--no-fund", "--prefer-offline"],
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT,
            check=False,
        )
    if done.returncode != 0:
        raise LookupError(f"`npm ci --prefix interop` failed: {done.stderr.strip()[-2000:]}")
    return node
