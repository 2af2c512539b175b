"""Every module of the four targeted plans has its test, named after it, and its row in the conformance table.

The module lists are those of the suite's plan classes (``OIDCCBasicTestPlan``, ``OIDCCConfigTestPlan``,
``OIDCCRpInitiatedLogoutTestPlan``, ``OIDCCBackchannelRpInitiatedLogoutTestPlan``): a module added to a plan,
or a test renamed, shows here rather than as a silent gap in the certification table.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

PLANS: dict[str, list[str]] = {
    "test_basic_plan": [
        "oidcc-server",
        "oidcc-response-type-missing",
        "oidcc-idtoken-signature",
        "oidcc-idtoken-unsigned",
        "oidcc-userinfo-get",
        "oidcc-userinfo-post-header",
        "oidcc-userinfo-post-body",
        "oidcc-ensure-request-without-nonce-succeeds-for-code-flow",
        "oidcc-scope-profile",
        "oidcc-scope-email",
        "oidcc-scope-address",
        "oidcc-scope-phone",
        "oidcc-scope-all",
        "oidcc-ensure-other-scope-order-succeeds",
        "oidcc-display-page",
        "oidcc-display-popup",
        "oidcc-prompt-login",
        "oidcc-prompt-none-not-logged-in",
        "oidcc-prompt-none-logged-in",
        "oidcc-max-age-1",
        "oidcc-max-age-10000",
        "oidcc-ensure-request-with-unknown-parameter-succeeds",
        "oidcc-id-token-hint",
        "oidcc-login-hint",
        "oidcc-ui-locales",
        "oidcc-claims-locales",
        "oidcc-ensure-request-with-acr-values-succeeds",
        "oidcc-codereuse",
        "oidcc-codereuse-30seconds",
        "oidcc-ensure-registered-redirect-uri",
        "oidcc-ensure-post-request-succeeds",
        "oidcc-server-client-secret-post",
        "oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported",
        "oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported",
        "oidcc-claims-essential",
        "oidcc-ensure-request-object-with-redirect-uri",
        "oidcc-refresh-token",
        "oidcc-ensure-request-with-valid-pkce-succeeds",
    ],
    "test_config_plan": ["oidcc-discovery-endpoint-verification"],
    "test_rp_initiated_logout_plan": [
        "oidcc-rp-initiated-logout-discovery-endpoint-verification",
        "oidcc-rp-initiated-logout",
        "oidcc-rp-initiated-logout-bad-post-logout-redirect-uri",
        "oidcc-rp-initiated-logout-modified-id-token-hint",
        "oidcc-rp-initiated-logout-no-id-token-hint",
        "oidcc-rp-initiated-logout-no-params",
        "oidcc-rp-initiated-logout-no-post-logout-redirect-uri",
        "oidcc-rp-initiated-logout-no-state",
        "oidcc-rp-initiated-logout-only-state",
        "oidcc-rp-initiated-logout-query-added-to-post-logout-redirect-uri",
        "oidcc-rp-initiated-logout-bad-id-token-hint",
    ],
    "test_backchannel_plan": [
        "oidcc-backchannel-logout-discovery-endpoint-verification",
        "oidcc-backchannel-rp-initiated-logout",
    ],
}
#: The table of modules, tests and statuses: a page of the documentation site, for integrators.
TABLE = Path(__file__).resolve().parents[2] / "docs" / "integrators" / "conformance.md"
CASES = [(plan, module) for plan, modules in PLANS.items() for module in modules]


def name_of_test(module: str) -> str:
    return "test_" + module.replace("-", "_")


@pytest.mark.parametrize(("plan", "module"), CASES, ids=[module for _, module in CASES])
def test_module_has_its_test_and_its_row(plan: str, module: str) -> None:
    tests = importlib.import_module(f"tests.conformance.{plan}")
    assert callable(getattr(tests, name_of_test(module), None)), f"{plan}.py has no {name_of_test(module)}"
    lines = TABLE.read_text(encoding="utf-8").splitlines()
    rows = [line for line in lines if line.startswith(f"| {module} |")]
    assert len(rows) == 1, f"docs/integrators/conformance.md: no row for {module}"
    assert f"`{name_of_test(module)}`" in rows[0]


def test_no_test_outside_the_plans() -> None:
    """A test named after a module that is in no targeted plan is listed as such in the table."""
    known = {name_of_test(module) for _, module in CASES}
    table = TABLE.read_text(encoding="utf-8")
    for plan in PLANS:
        tests = importlib.import_module(f"tests.conformance.{plan}")
        for name in (n for n in dir(tests) if n.startswith("test_oidcc_")):
            assert name in known or f"`{name}`" in table, name
