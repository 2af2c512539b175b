"""One hash-chain format for the IdP's audit log and the portal's: ``hashchain``, shared, neutral, pure.

The IdP keeps its public names (``idp.audit.chain``) for the very same functions; an event written with the same
values exports to the same line from either application; the standalone verifier computes the same hash; and the
package boundaries hold (the portal never imports ``idp``; ``hashchain`` imports neither application).
"""

from __future__ import annotations

import ast
import datetime as dt
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import hashchain
from hashchain import GENESIS, ChainedEvent, canonical_json, event_body, event_hash

REPO = Path(__file__).resolve().parents[2]
#: Characters whose JSON spelling every implementation must agree on (see tests/idp/audit/test_audit_log.py).
AWKWARD = 'Zoé "guillemets" \\ fin\nde ligne\t\x01 \U0001f5f3 \u2028'


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("verify_audit_export", REPO / "tools" / "verify_audit_export.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


def _event(seq: int = 2, prev_hash: str = GENESIS) -> ChainedEvent:
    occurred_at = dt.datetime(2027, 3, 14, 8, 0, 0, 123456, tzinfo=dt.UTC)
    data = {"motif": AWKWARD, "nombre": 3, "liste": [1, None, True]}
    body = event_body(
        chain=5, seq=seq, occurred_at=occurred_at, type="ballot.cast", subject=AWKWARD, client_id=None, data=data
    )
    return ChainedEvent(
        id=1,
        chain=5,
        seq=seq,
        occurred_at=occurred_at,
        type="ballot.cast",
        subject=AWKWARD,
        client_id=None,
        data=canonical_json(data),
        prev_hash=prev_hash,
        hash=event_hash(prev_hash, body),
    )


def test_the_idp_keeps_its_names_for_the_shared_functions() -> None:
    from idp.audit import chain

    for name in ("GENESIS", "canonical_json", "format_instant", "event_body", "event_hash"):
        assert getattr(chain, name) is getattr(hashchain, name), name


def test_an_event_exports_to_the_same_line_from_the_idp_and_from_hashchain() -> None:
    from idp.audit.export import line_of
    from idp.audit.stored import StoredEvent

    event = _event()
    stored = StoredEvent(**{name: getattr(event, name) for name in ChainedEvent.__dataclass_fields__})
    assert line_of(stored) == event.export_line()
    assert stored.matches() and event.matches()


def test_the_standalone_verifier_computes_the_same_hash() -> None:
    tool = _tool()
    line = json.loads(_event().export_line())
    assert tool.event_hash(line) == line["hash"]
    assert line["data"] == canonical_json(json.loads(line["data"]))
    assert tool.verify([_event(seq=1).export_line()], complete=True).events == 1


def test_a_renumbered_event_is_found_at_the_seq_it_was_written_at() -> None:
    event = _event(seq=7)
    moved = ChainedEvent(**{**{name: getattr(event, name) for name in ChainedEvent.__dataclass_fields__}, "seq": 4})
    assert not moved.matches()
    assert moved.written_seq(range(1, 100)) == 7


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    return names | {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
    }


def test_package_boundaries() -> None:
    for path in (REPO / "relying_party").rglob("*.py"):
        assert "idp" not in _imports(path), f"{path.relative_to(REPO)} imports idp"
    for path in (REPO / "hashchain").rglob("*.py"):
        imported = _imports(path) - {"hashchain", "__future__"}
        assert imported <= set(sys.stdlib_module_names), f"{path.relative_to(REPO)} imports {imported}"
