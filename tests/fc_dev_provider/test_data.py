"""The shipped data files, and the validation of citizens, clients and scenario files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fc_dev_provider.citizens import CitizensError, load_citizens
from fc_dev_provider.clients import ClientsError, load_clients
from fc_dev_provider.config import DATA_DIR
from fc_dev_provider.scenarios import ScenariosError, load_scenarios, parse_scenarios

HEADER = "id,given_name,family_name,preferred_username,birthdate,gender,birthplace,birthcountry,email\n"


def test_shipped_citizens_hold_the_personas_the_demo_and_tests_need() -> None:
    citizens = load_citizens(DATA_DIR / "citizens.csv")
    claire = citizens["claire-jullien"]
    assert (
        claire.given_name,
        claire.family_name,
        claire.birthdate,
        claire.gender,
        claire.birthplace,
        claire.birthcountry,
    ) == ("Claire", "JULLIEN", "1985-07-21", "female", "21231", "99100")
    marc = citizens["marc-antoine-durand"]
    assert (marc.given_name, marc.family_name, marc.birthdate, marc.gender, marc.birthplace) == (
        "Marc Antoine",
        "DURAND",
        "1979-03-02",
        "male",
        "71270",
    )
    assert any(c.born_abroad and c.birthplace == "" for c in citizens.values())
    assert any(len(c.given_name.split()) >= 3 for c in citizens.values())
    assert any(c.birthdate == "1980-01-01" for c in citizens.values()), "a presumed birth date (INSEE)"
    assert any(c.birthplace.startswith("2A") for c in citizens.values())
    lookalikes: dict[tuple[str, str], set[str]] = {}
    for citizen in citizens.values():
        lookalikes.setdefault((citizen.given_name, citizen.family_name), set()).add(citizen.birthdate)
    assert any(len(dates) >= 2 for dates in lookalikes.values()), "two citizens alike but for the birth date"


def test_shipped_scenarios_and_clients_load() -> None:
    book = load_scenarios(DATA_DIR / "scenarios.json")
    book.check_citizens(load_citizens(DATA_DIR / "citizens.csv"))
    kinds = {fault.type for scenario in book.scenarios.values() for fault in scenario.faults}
    assert kinds == {"slow", "error_status", "missing_claim", "callback_error", "bad_signature"}
    clients = load_clients(None, DATA_DIR / "clients.json")
    assert all(client.redirect_uris and client.post_logout_redirect_uris for client in clients.values())


ROW = "c1,Claire,JULLIEN,,1985-07-21,female,21231,99100,c@courriel.example\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("id,given_name\nc1,Claire\n", "missing columns"),
        (HEADER, "no citizen"),
        (HEADER + ROW + ROW, "appears twice"),
        (HEADER + ROW.replace("1985-07-21", "1985-02-30"), "birthdate"),
        (HEADER + ROW.replace("1985-07-21", "21/07/1985"), "birthdate"),
        (HEADER + ROW.replace("female", "F"), "gender"),
        (HEADER + ROW.replace(",21231,", ",,"), "commune"),
        (HEADER + ROW.replace(",21231,", ",2C231,"), "commune"),
        (HEADER + ROW.replace(",99100,", ",99134,"), "empty when born abroad"),
        (HEADER + ROW.replace(",99100,", ",France,"), "country"),
        (HEADER + ROW.replace("c1,", "c 1,"), "id"),
        (HEADER + ROW.replace("Claire", ""), "given_name"),
    ],
)
def test_citizens_file_errors_name_the_problem(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "citizens.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CitizensError, match=message):
        load_citizens(path)


GOOD_CLIENT: dict[str, Any] = {"client_id": "c", "client_secret": "s" * 20, "redirect_uris": ["https://rp.example/cb"]}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "non-empty list"),
        ([{**GOOD_CLIENT, "client_secret": "court"}], "client_secret"),
        ([{**GOOD_CLIENT, "redirect_uris": []}], "redirect_uris"),
        ([{**GOOD_CLIENT, "redirect_uris": ["/relative"]}], "absolute"),
        ([{**GOOD_CLIENT, "post_logout_redirect_uris": ["https://rp.example/#x"]}], "fragment"),
        ([GOOD_CLIENT, GOOD_CLIENT], "twice"),
        ("{pas du json", "not valid JSON"),
    ],
)
def test_clients_errors_name_the_problem(data: Any, message: str) -> None:
    with pytest.raises(ClientsError, match=message):
        load_clients(data if isinstance(data, str) else json.dumps(data), "/nonexistent")


def test_client_sector_defaults_to_the_redirect_host() -> None:
    clients = load_clients([GOOD_CLIENT], "/nonexistent")
    assert clients["c"].sector == "rp.example"


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ({"type": "inconnu"}, "type"),
        ({"type": "slow", "seconds": 0}, "seconds"),
        ({"type": "slow", "seconds": 1000}, "seconds"),
        ({"type": "slow", "endpoint": "authorize", "seconds": 1}, "endpoint"),
        ({"type": "error_status", "status": 200}, "status"),
        ({"type": "missing_claim", "claim": "telephone"}, "claim"),
        ({"type": "callback_error", "error": "Pas Un Code"}, "error"),
        ({"type": "callback_error", "error_description": 'guillemet "'}, "error_description"),
        ({"type": "bad_signature", "kid": "autre"}, "kid"),
    ],
)
def test_scenario_errors_name_the_problem(fault: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenariosError, match=message):
        parse_scenarios({"scenarios": {"s": {"label": "s", "faults": [fault]}}})


def test_scenario_file_must_refer_to_known_scenarios_and_citizens() -> None:
    with pytest.raises(ScenariosError, match="unknown scenario"):
        parse_scenarios({"scenarios": {}, "citizens": {"c1": "absent"}})
    book = parse_scenarios(
        {
            "scenarios": {"s": {"label": "s", "faults": [{"type": "missing_claim", "claim": "email"}]}},
            "citizens": {"personne": "s"},
        }
    )
    with pytest.raises(ScenariosError, match="unknown citizens: personne"):
        book.check_citizens(["c1"])
    with pytest.raises(ScenariosError, match="aucun"):
        parse_scenarios(
            {"scenarios": {"aucun": {"label": "x", "faults": [{"type": "missing_claim", "claim": "email"}]}}}
        )
