"""Write the configuration reference (docs/reference/configuration.md) from each application's ``DEFAULTS``.

The meaning of a setting is the comment written just above it in the ``DEFAULTS`` literal, so that the reference
and the code cannot drift apart: ``tests/docs/test_config_reference.py`` fails when the committed page differs from
what this command writes, and when a setting has no comment. Conventions inside a ``DEFAULTS`` literal:

- the comment lines right above a key (no blank line between) document it; a comment on the key's own line, after
  the value, is appended;
- a comment line ``# --- Title ---`` starts a new part of the table, titled ``Title``;
- any other comment (separated from the next key by a blank line) is for the code's readers only;
- an entry ``**NAME``, where ``NAME`` is a dict literal imported with ``from module import NAME``, brings in that
  literal's settings with their comments (settings several apps share, written once: the staff consoles').

Usage::

    .venv/bin/python tools/config_reference.py           # rewrite the page
    .venv/bin/python tools/config_reference.py --check   # exit 1 if the page is out of date

The applications whose settings are documented are listed in ``SOURCES`` below: the one place to update when a
setting moves to another module (say, a plugin's settings leaving the IdP's ``DEFAULTS``).
"""

from __future__ import annotations

import argparse
import ast
import difflib
import importlib
import inspect
import io
import re
import sys
import tokenize
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "reference" / "configuration.md"
COMMAND = ".venv/bin/python tools/config_reference.py"


@dataclass(frozen=True)
class Source:
    """One application's settings: where its ``DEFAULTS`` live and the prefix of its environment variables."""

    title: str
    module: str
    prefix: str
    intro: str
    attribute: str = "DEFAULTS"


#: Every documented ``DEFAULTS``, in the order of the page.
SOURCES: tuple[Source, ...] = (
    Source(
        title="OpenID Provider",
        module="idp.config",
        prefix="IDP_",
        intro="The IdP (`idp.create_app()`, the `idp` command) and its workers.",
    ),
    Source(
        title="Réassort plugin",
        module="reassort_plugin.settings",
        prefix="IDP_",
        intro="The plugin's own settings (`IDP_PLUGINS=reassort`), declared in the plugin and read by the IdP like "
        "its own when the plugin is enabled.",
    ),
    Source(
        title="Voter portal",
        module="relying_party.config",
        prefix="PORTAL_",
        intro="The voter portal (`relying_party.create_app()`, the `portal` command) and its workers.",
    ),
    Source(
        title="Auditors' console",
        module="audit_console.config",
        prefix="AUDIT_CONSOLE_",
        intro="The console « Journal d'audit » (`audit_console.create_app()`).",
    ),
    Source(
        title="Operators' console",
        module="operator_console.config",
        prefix="OPERATOR_CONSOLE_",
        intro="The « Console des opérateurs » (`operator_console.create_app()`): turnout, sign-ins, delivery.",
    ),
    Source(
        title="Development FranceConnect provider",
        module="fc_dev_provider.config",
        prefix="FCDEV_",
        intro="The FranceConnect-style provider of the demo and the tests (`fc_dev_provider.create_app()`, "
        "`fc-dev-provider run`). Never in production.",
    ),
)

_SECTION = re.compile(r"^-{3,}\s*(?P<title>.+?)\s*-{3,}$")


@dataclass(frozen=True)
class Setting:
    """One key of a ``DEFAULTS`` literal and the comment that documents it."""

    name: str
    meaning: str


@dataclass
class Part:
    """A titled part of one application's table."""

    title: str
    settings: list[Setting] = field(default_factory=list)


def _comments(source: str) -> dict[int, tuple[str, bool]]:
    """Comment text by line number, and whether the comment stands on a line of its own."""
    found: dict[int, tuple[str, bool]] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            own_line = token.line.strip().startswith("#")
            found[token.start[0]] = (token.string.lstrip("#").strip(), own_line)
    return found


def _defaults_literal(tree: ast.Module, attribute: str, where: str) -> ast.Dict:
    for node in tree.body:
        target: ast.expr | None = None
        value: ast.expr | None = None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        if isinstance(target, ast.Name) and target.id == attribute and isinstance(value, ast.Dict):
            return value
    raise SystemExit(
        f"{where}: no dict literal {attribute} = {{...}} found; update SOURCES in tools/config_reference.py"
    )


def parts_of(source: Source) -> tuple[list[Part], dict[str, Any]]:
    """Read the comments of ``source``'s ``DEFAULTS`` literal: its settings, in titled parts, with their meaning."""
    module = importlib.import_module(source.module)
    defaults: dict[str, Any] = getattr(module, source.attribute)
    parts = _literal_parts(source.module, source.attribute)
    names = [setting.name for part in parts for setting in part.settings]
    if set(names) != set(defaults):
        raise SystemExit(
            f"{source.module}.{source.attribute}: the literal and the module's value differ "
            f"({sorted(set(names) ^ set(defaults))}); update tools/config_reference.py"
        )
    return [part for part in parts if part.settings], defaults


def _imported_from(tree: ast.Module, name: str, where: str) -> tuple[str, str]:
    """(module, attribute) that ``from module import attribute [as name]`` binds to ``name``."""
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    return node.module, alias.name
    raise SystemExit(f"{where}: **{name} must name a dict literal imported with `from module import {name}`")


def _literal_parts(module_name: str, attribute: str) -> list[Part]:
    """The settings of the dict literal ``attribute`` of ``module_name``, in titled parts. An entry ``**NAME``
    (settings shared by several apps, written once) brings in the settings of the literal NAME is imported from,
    with their comments and parts."""
    module = importlib.import_module(module_name)
    path = inspect.getsourcefile(module)
    if path is None:
        raise SystemExit(f"{module_name}: no source file")
    text = Path(path).read_text(encoding="utf-8")
    tree = ast.parse(text)
    literal = _defaults_literal(tree, attribute, module_name)
    comments = _comments(text)
    parts = [Part(title="General")]
    previous_end = literal.lineno
    for key_node, value_node in zip(literal.keys, literal.values, strict=True):
        if key_node is None and isinstance(value_node, ast.Name):
            shared = _literal_parts(*_imported_from(tree, value_node.id, module_name))
            parts[-1].settings.extend(shared[0].settings)
            parts.extend(shared[1:])
            previous_end = value_node.end_lineno or value_node.lineno
            continue
        if not (isinstance(key_node, ast.Constant) and isinstance(key_node.value, str)):
            raise SystemExit(f"{module_name}.{attribute}: every key must be a string literal (or **a shared literal)")
        for line in range(previous_end + 1, key_node.lineno):
            comment = comments.get(line)
            title = _SECTION.match(comment[0]) if comment and comment[1] else None
            if title:
                parts.append(Part(title=title.group("title")))
        above: list[str] = []
        line = key_node.lineno - 1
        while line > previous_end and line in comments and comments[line][1] and not _SECTION.match(comments[line][0]):
            above.insert(0, comments[line][0])
            line -= 1
        previous_end = value_node.end_lineno or value_node.lineno
        trailing = comments.get(previous_end)
        if trailing and not trailing[1] and not trailing[0].startswith("noqa"):
            above.append(trailing[0])
        parts[-1].settings.append(Setting(name=key_node.value, meaning=" ".join(above)))
    return parts


def _default(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, str):
        if value == "":
            return "empty"
        if value.startswith(str(REPO) + "/"):
            value = value[len(str(REPO)) + 1 :]
        return f"`{value}`"
    return f"`{value!r}`"


def _cell(text: str) -> str:
    """Markdown of a comment in a table cell.

    ``Double`` backquotes (reST) become single ones; outside code spans, ``<``, ``>`` and ``*`` are escaped (they
    would be read as HTML or emphasis), and everywhere ``|`` (it would end the cell).
    """
    pieces = re.sub(r"``(.+?)``", r"`\1`", text).split("`")
    for index in range(0, len(pieces), 2):
        pieces[index] = pieces[index].replace("<", "&lt;").replace(">", "&gt;").replace("*", "\\*")
    return "`".join(pieces).replace("|", "\\|")


def render() -> str:
    """The whole page, as the committed file must read."""
    out = [
        "# Configuration reference",
        "",
        "<!-- Generated by tools/config_reference.py from each application's DEFAULTS: do not edit by hand. -->",
        "",
        "Every setting of every application, with its environment variable, its default and its meaning, as the",
        "code defines them. Each variable may instead be given as a file: `<VARIABLE>_FILE` names a file holding",
        "the value (docker secrets), and wins over the variable. Booleans are `true` or `false`; numbers are",
        "integers; durations are in seconds. The setting's name is the key a caller passes to `create_app(config)`",
        "(the tests do this). How settings are read and which ones production needs:",
        "[Configuration](../operators/configuration.md).",
        "",
        f"This page is generated: after changing a `DEFAULTS`, run `{COMMAND}`.",
    ]
    for source in SOURCES:
        parts, defaults = parts_of(source)
        out += ["", f"## {source.title}", "", source.intro]
        for part in parts:
            out += ["", f"### {part.title}", ""] if len(parts) > 1 else [""]
            out += ["| Setting | Environment variable | Default | Meaning |", "| --- | --- | --- | --- |"]
            for setting in part.settings:
                name, meaning = setting.name, _cell(setting.meaning)
                out.append(f"| `{name}` | `{source.prefix}{name}` | {_default(defaults[name])} | {meaning} |")
    return "\n".join(line for line in _squeeze(out)) + "\n"


def _squeeze(lines: list[str]) -> list[str]:
    """Drop the doubled blank lines the layout above leaves."""
    result: list[str] = []
    for line in lines:
        if line == "" and result and result[-1] == "":
            continue
        result.append(line)
    return result


def undocumented() -> list[str]:
    """Settings with no comment to say what they mean."""
    missing = []
    for source in SOURCES:
        parts, _ = parts_of(source)
        missing += [
            f"{source.prefix}{setting.name}" for part in parts for setting in part.settings if not setting.meaning
        ]
    return missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed page is out of date")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    expected = render()
    missing = undocumented()
    if missing:
        print(f"settings without a comment above them in DEFAULTS: {', '.join(missing)}", file=sys.stderr)
        return 1
    if args.check:
        current = PAGE.read_text(encoding="utf-8") if PAGE.exists() else ""
        if current != expected:
            diff = difflib.unified_diff(
                current.splitlines(), expected.splitlines(), "committed", "generated", lineterm="", n=0
            )
            print("\n".join(list(diff)[:40]), file=sys.stderr)
            print(f"{PAGE.relative_to(REPO)} is out of date: run {COMMAND}", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(expected, encoding="utf-8")
    print(f"wrote {PAGE.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
