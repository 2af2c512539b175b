"""Faults injected per login, read from the scenario file (FranceConnect's mock providers do the same).

Each fault is a real protocol behaviour a relying party must survive::

    {
      "scenarios": {
        "userinfo-lent": {"label": "Réponse lente de userinfo (12 s)",
                          "faults": [{"type": "slow", "endpoint": "userinfo", "seconds": 12}]}
      },
      "citizens": {"thomas-girard": "userinfo-lent"}
    }

Fault types: ``slow`` (``endpoint`` token|userinfo, ``seconds``), ``error_status`` (``endpoint``
token|userinfo, ``status`` 400-599), ``missing_claim`` (``claim`` dropped from userinfo), ``callback_error``
(``error``, optional ``error_description``: returned to the callback instead of a code), ``bad_signature``
(``endpoint`` userinfo|id_token, ``kid`` same|unknown: signed by another key). ``citizens`` applies a scenario
to every login of a citizen unless the tester picks another one on the login page.

The scenario travels with the login (code, then access token), so every process applies the same faults.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from authlib.oauth2.base import invalid_error_characters

from fc_dev_provider.claims import USERINFO_CLAIMS

FAULT_TYPES = ("slow", "error_status", "missing_claim", "callback_error", "bad_signature")
#: Longest injected delay: long enough to exceed any sane client timeout, short enough to end.
MAX_DELAY = 300.0
#: Login-page choices that are not scenario names.
CHOICE_DEFAULT = ""
CHOICE_NONE = "aucun"
_ERROR_CODE = re.compile(r"^[a-z_]{1,64}$")
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ScenariosError(ValueError):
    """The scenario file is malformed; the message names the scenario and the field."""


@dataclass(frozen=True)
class Fault:
    type: str
    endpoint: str | None = None
    seconds: float = 0.0
    status: int = 0
    claim: str | None = None
    error: str | None = None
    error_description: str | None = None
    kid: str = "same"


def _endpoint(entry: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> str:
    endpoint = entry.get("endpoint", allowed[0])
    if endpoint not in allowed:
        raise ScenariosError(f"{where}: endpoint must be one of {', '.join(allowed)}")
    return str(endpoint)


def parse_fault(entry: Any, where: str) -> Fault:
    if not isinstance(entry, Mapping) or entry.get("type") not in FAULT_TYPES:
        raise ScenariosError(f"{where}: each fault needs a type among {', '.join(FAULT_TYPES)}")
    kind = str(entry["type"])
    if kind == "slow":
        seconds = entry.get("seconds")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or not 0 < seconds <= MAX_DELAY:
            raise ScenariosError(f"{where}: seconds must be a number in ]0, {MAX_DELAY:g}]")
        return Fault(kind, _endpoint(entry, ("userinfo", "token"), where), seconds=float(seconds))
    if kind == "error_status":
        status = entry.get("status")
        if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
            raise ScenariosError(f"{where}: status must be an HTTP error status (400 to 599)")
        return Fault(kind, _endpoint(entry, ("userinfo", "token"), where), status=status)
    if kind == "missing_claim":
        if entry.get("claim") not in USERINFO_CLAIMS:
            raise ScenariosError(f"{where}: claim must be one of {', '.join(USERINFO_CLAIMS)}")
        return Fault(kind, "userinfo", claim=str(entry["claim"]))
    if kind == "callback_error":
        error = entry.get("error", "access_denied")
        description = entry.get("error_description")
        if not isinstance(error, str) or not _ERROR_CODE.match(error):
            raise ScenariosError(f"{where}: error must be an OAuth error code (a-z and _)")
        if description is not None and not (isinstance(description, str) and not invalid_error_characters(description)):
            raise ScenariosError(f"{where}: error_description must be printable ASCII without '\"' or '\\'")
        return Fault(kind, "authorize", error=error, error_description=description)
    kid = entry.get("kid", "same")
    if kid not in ("same", "unknown"):
        raise ScenariosError(f"{where}: kid must be 'same' or 'unknown'")
    return Fault(kind, _endpoint(entry, ("userinfo", "id_token"), where), kid=str(kid))


@dataclass(frozen=True)
class Scenario:
    name: str
    label: str
    faults: tuple[Fault, ...] = field(default_factory=tuple)

    def first(self, kind: str, endpoint: str) -> Fault | None:
        return next((f for f in self.faults if f.type == kind and f.endpoint == endpoint), None)

    def delay(self, endpoint: str) -> float:
        return sum(f.seconds for f in self.faults if f.type == "slow" and f.endpoint == endpoint)

    def error_status(self, endpoint: str) -> int | None:
        fault = self.first("error_status", endpoint)
        return fault.status if fault else None

    def missing_claims(self) -> set[str]:
        return {f.claim for f in self.faults if f.type == "missing_claim" and f.claim}

    def callback_error(self) -> Fault | None:
        return self.first("callback_error", "authorize")

    def bad_signature(self, endpoint: str) -> Fault | None:
        return self.first("bad_signature", endpoint)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "label": self.label, "faults": [asdict(f) for f in self.faults]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scenario:
        """Rebuild a scenario carried by a code or token record (written by :meth:`to_dict`)."""
        return cls(str(data["name"]), str(data["label"]), tuple(Fault(**f) for f in data["faults"]))


def parse_scenario(name: str, entry: Any) -> Scenario:
    where = f"scenario {name!r}"
    if not _NAME.match(name) or name == CHOICE_NONE:
        raise ScenariosError(f"{where}: names are 1 to 64 letters, digits, '-' or '_', not {CHOICE_NONE!r}")
    if not isinstance(entry, Mapping):
        raise ScenariosError(f"{where}: must be an object with label and faults")
    label = entry.get("label", name)
    faults = entry.get("faults")
    if not isinstance(label, str) or not isinstance(faults, list) or not faults:
        raise ScenariosError(f"{where}: label must be a string and faults a non-empty list")
    parsed = tuple(parse_fault(fault, f"{where}, fault #{i}") for i, fault in enumerate(faults, start=1))
    return Scenario(name, label, parsed)


@dataclass(frozen=True)
class ScenarioBook:
    """Every scenario by name, and the scenario applied by default to some citizens."""

    scenarios: dict[str, Scenario]
    by_citizen: dict[str, str]

    def check_citizens(self, known: Iterable[str]) -> None:
        unknown = sorted(set(self.by_citizen) - set(known))
        if unknown:
            raise ScenariosError(f"the scenario file names unknown citizens: {', '.join(unknown)}")

    def for_citizen(self, citizen_id: str) -> Scenario | None:
        name = self.by_citizen.get(citizen_id)
        return self.scenarios[name] if name else None

    def resolve(self, choice: str, citizen_id: str) -> Scenario | None:
        """The scenario of a login: the tester's choice, else the citizen's default. KeyError if unknown."""
        if choice == CHOICE_DEFAULT:
            return self.for_citizen(citizen_id)
        if choice == CHOICE_NONE:
            return None
        return self.scenarios[choice]


def parse_scenarios(data: Any) -> ScenarioBook:
    if not isinstance(data, Mapping):
        raise ScenariosError('the scenario file must be an object {"scenarios": {...}, "citizens": {...}}')
    entries = data.get("scenarios", {})
    by_citizen = data.get("citizens", {})
    if not isinstance(entries, Mapping) or not isinstance(by_citizen, Mapping):
        raise ScenariosError("scenarios and citizens must be objects")
    scenarios = {str(name): parse_scenario(str(name), entry) for name, entry in entries.items()}
    for citizen, name in by_citizen.items():
        if name not in scenarios:
            raise ScenariosError(f"citizen {citizen!r} refers to the unknown scenario {name!r}")
    return ScenarioBook(scenarios, {str(k): str(v) for k, v in by_citizen.items()})


def load_scenarios(path: str | Path | None) -> ScenarioBook:
    if not path:
        return ScenarioBook({}, {})
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenariosError(f"cannot read the scenario file {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ScenariosError(f"{path} is not valid JSON: {exc}") from None
    return parse_scenarios(data)
