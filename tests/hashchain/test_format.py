"""One hash-chain format for the IdP's audit log and the portal's: ``hashchain``, shared and neutral.

Both applications describe their own table to it; an event's export line carries every input of its hash; the
standalone verifier computes the same hash; and ``hashchain`` needs only SQLAlchemy and click, its format modules only
the standard library (that it imports no application is a contract of tests/test_architecture.py).
"""

from __future__ import annotations

import ast
import datetime as dt
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

from hashchain import GENESIS, ChainedEvent, canonical_json, event_body, event_hash
from hashchain.log import FIELDS

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


def test_both_applications_describe_their_own_table_to_hashchain() -> None:
    from idp.audit import LOG as IDP_LOG
    from relying_party.audit import LOG as PORTAL_LOG

    assert (IDP_LOG.name, PORTAL_LOG.name) == ("audit_event", "portal_audit_event")
    assert IDP_LOG.lock_space != PORTAL_LOG.lock_space  # the two logs may share one PostgreSQL database
    assert [c.name for c in IDP_LOG.columns] == [c.name for c in PORTAL_LOG.columns] == list(FIELDS)


def test_an_event_exports_every_input_of_its_hash_in_ascii() -> None:
    line = _event().export_line()
    assert line.isascii() and "\n" not in line
    event = json.loads(line)
    assert list(event) == [name for name in FIELDS if name != "id"]
    assert event["occurred_at"] == "2027-03-14T08:00:00.123456Z" and json.loads(event["data"])["motif"] == AWKWARD


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


def test_the_dependencies_of_hashchain() -> None:
    # SQLAlchemy for the tables, click for the shared commands.
    for path in (REPO / "hashchain").rglob("*.py"):
        imported = _imports(path) - {"hashchain", "__future__"} - set(sys.stdlib_module_names)
        assert imported <= {"sqlalchemy", "click"}, f"{path.relative_to(REPO)} imports {imported}"
    # The format itself (what is hashed, the export line) needs the standard library only, like the tools.
    for name in ("format.py", "event.py"):
        imported = _imports(REPO / "hashchain" / name) - {"hashchain", "__future__"}
        assert imported <= set(sys.stdlib_module_names), f"hashchain/{name} imports {imported}"
