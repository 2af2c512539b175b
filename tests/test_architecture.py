"""Every boundary of the architecture in one place: the import-linter contracts of ``pyproject.toml``.

``lint-imports`` must keep them all (as ``make lint`` runs it); each contract must also break when the import it
exists to stop is added to the real import graph, so that a contract loosened by mistake fails here; and the lists
that say what the plugin and the two consoles may not import name every other part of the application, so that a
new subpackage has to be placed deliberately. docs/contributors/layering.md explains the rules.
"""

from __future__ import annotations

import copy
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import grimp
import pytest
from importlinter import configuration
from importlinter.contracts.forbidden import ForbiddenContract
from importlinter.contracts.layers import LayersContract
from importlinter.contracts.protected import ProtectedContract
from importlinter.domain.contract import Contract

ROOT = Path(__file__).resolve().parents[1]
SETTINGS: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
CONTRACTS: dict[str, dict[str, Any]] = {contract["id"]: contract for contract in SETTINGS["contracts"]}
TYPES: dict[str, type[Contract]] = {
    "layers": LayersContract,
    "forbidden": ForbiddenContract,
    "protected": ProtectedContract,
}


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    configuration.configure()  # what lint-imports does first: its timer, file system and readers
    return grimp.build_graph(*SETTINGS["root_packages"], include_external_packages=False, cache_dir=None)


def check(contract_id: str, graph: grimp.ImportGraph) -> bool:
    options = {key: value for key, value in CONTRACTS[contract_id].items() if key not in ("id", "name")}
    options = {key: value if isinstance(value, list) else str(value).lower() for key, value in options.items()}
    session = {key: value for key, value in SETTINGS.items() if key != "contracts"}
    contract = TYPES[options["type"]](
        name=CONTRACTS[contract_id]["name"], session_options=session, contract_options=options
    )
    return bool(contract.check(graph, verbose=False).kept)


def test_lint_imports_keeps_every_contract() -> None:
    command = [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in done.stdout


@pytest.mark.parametrize(
    ("contract_id", "importer", "imported"),
    [
        # The bottom layer importing a feature's models: the cycle idp.models once made through nine subpackages.
        ("idp-layers", "idp.models", "idp.oidc.models"),
        # Sign-in calling the OpenID Provider instead of its sign-out hook.
        ("idp-layers", "idp.auth.views", "idp.oidc.logout"),
        # Features side by side stay independent.
        ("idp-layers", "idp.oidc.tokens", "idp.votecode.service"),
        # A service or the plugin API reaching into a screen (as the plugin API once did for the sign-in state).
        ("idp-views-on-top", "idp.plugin_api", "idp.auth.views"),
        ("idp-views-on-top", "idp.votecode.service", "idp.captcha.views"),
        ("oidc-views-on-top", "idp.oidc.authorization", "idp.oidc.views.authorize"),
        ("portal-knows-the-idp-by-oidc-only", "relying_party.pages.views", "idp.models"),
        ("idp-never-imports-its-plugin", "idp.plugins", "reassort_plugin.plugin"),
        ("plugin-imports-only-plugin-api", "reassort_plugin.plugin", "idp.auth.views"),
        ("console-reads-the-log-only", "audit_console.views", "idp.oidc.tokens"),
        ("operators-console-reads-counts-only", "operator_console.figures", "idp.auth.service"),
        ("operators-console-reads-counts-only", "operator_console.figures", "relying_party.voting.service"),
        ("dev-provider-stands-alone", "fc_dev_provider.api", "idp.models"),
        ("shared-packages-import-no-application", "infra.db", "idp.db"),
        ("shared-packages-import-no-application", "hashchain.log", "relying_party.models"),
    ],
)
def test_each_contract_breaks_on_the_import_it_forbids(
    graph: grimp.ImportGraph, contract_id: str, importer: str, imported: str
) -> None:
    assert check(contract_id, graph)
    broken = copy.deepcopy(graph)
    for module in (importer, imported):
        assert module in broken.modules, module
    broken.add_import(importer=importer, imported=imported)
    assert not check(contract_id, broken)


def children_of(graph: grimp.ImportGraph, package: str) -> set[str]:
    return set(graph.find_children(package))


@pytest.mark.parametrize(
    ("contract_id", "package", "allowed"),
    [
        ("plugin-imports-only-plugin-api", "idp", {"idp.plugin_api"}),
        ("console-reads-the-log-only", "idp", {"idp.audit", "idp.auditors", "idp.models"}),
        ("operators-console-reads-counts-only", "idp", {"idp.operations", "idp.models"}),
        ("operators-console-reads-counts-only", "relying_party", {"relying_party.turnout", "relying_party.models"}),
    ],
)
def test_the_forbidden_lists_name_every_other_part_of_an_application(
    graph: grimp.ImportGraph, contract_id: str, package: str, allowed: set[str]
) -> None:
    forbidden = {name for name in CONTRACTS[contract_id]["forbidden_modules"] if name.startswith(package + ".")}
    assert forbidden | allowed == children_of(graph, package)
    assert not forbidden & allowed


def test_the_layers_place_every_part_of_the_idp(graph: grimp.ImportGraph) -> None:
    layers = CONTRACTS["idp-layers"]
    placed = {f"idp.{name.strip()}" for layer in layers["layers"] for name in layer.split("|")}
    assert layers["exhaustive"] is True
    assert placed == children_of(graph, "idp")
