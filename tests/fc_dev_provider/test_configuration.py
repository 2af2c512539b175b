"""Configuration layers, the signing key (file or generated), and the shared Redis store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from joserfc.jwk import ECKey

from fc_dev_provider import config as config_module
from fc_dev_provider import create_app
from fc_dev_provider.keys import KeyFileError, SigningKey
from fc_dev_provider.provider import EXTENSION, Provider
from tests.fc_dev_provider.helpers import CLIENT_A, CLIENTS, ISSUER, REDIS_URL, FcActions, redis_or_skip


def _provider(**config: Any) -> Provider:
    provider: Provider = create_app({"CLIENTS": CLIENTS, **config}, environ={}).extensions[EXTENSION]
    return provider


def test_environment_then_overrides(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("secret-from-a-file-0123456789\n", encoding="utf-8")
    environ = {
        "FCDEV_ISSUER": "https://fc.example/api/v2",
        "FCDEV_CODE_TTL": "20",
        "FCDEV_SECRET_KEY_FILE": str(secret_file),
    }
    settings = config_module.load(environ, {"CODE_TTL": 10})
    assert settings["ISSUER"] == "https://fc.example/api/v2"
    assert settings["SECRET_KEY"] == "secret-from-a-file-0123456789"
    assert settings["CODE_TTL"] == 10
    assert config_module.load({"FCDEV_ACCESS_TOKEN_TTL": "90"})["ACCESS_TOKEN_TTL"] == 90


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ISSUER": "localhost:5002/api/v2"}, "absolute"),
        ({"ISSUER": "http://localhost:5002/api/v2/"}, "trailing slash"),
        ({"CODE_TTL": 0}, "CODE_TTL"),
    ],
)
def test_invalid_settings_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        config_module.validate(config_module.load({}, overrides))


def test_environment_values_of_the_wrong_type_are_refused() -> None:
    with pytest.raises(ValueError, match="FCDEV_CODE_TTL must be an integer"):
        config_module.load({"FCDEV_CODE_TTL": "trente"})


def test_a_generated_key_differs_per_start() -> None:
    assert _provider().signing_key.kid != _provider().signing_key.kid


def test_a_pem_key_file_gives_the_same_kid_everywhere(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(SigningKey.generate().pem())
    kids = {_provider(SIGNING_KEY_FILE=str(path)).signing_key.kid for _ in range(2)}
    assert kids == {SigningKey.from_file(path).kid}


def test_a_jwk_key_file_keeps_its_kid(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    path.write_text(
        json.dumps({**ECKey.generate_key("P-256").as_dict(private=True), "kid": "cle-2025"}), encoding="utf-8"
    )
    assert _provider(SIGNING_KEY_FILE=str(path)).signing_key.kid == "cle-2025"


@pytest.mark.parametrize("content", ["public", "p384", "garbage", "missing"])
def test_unusable_key_files_are_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "key"
    if content == "public":
        path.write_text(json.dumps(ECKey.generate_key("P-256").as_dict(private=False)), encoding="utf-8")
    elif content == "p384":
        path.write_bytes(ECKey.generate_key("P-384").as_pem(private=True))
    elif content == "garbage":
        path.write_text("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n", encoding="utf-8")
    with pytest.raises(KeyFileError):
        SigningKey.from_file(path)


def test_two_processes_share_codes_and_tokens_through_redis(tmp_path: Path) -> None:
    """What several processes behind one address need: one Redis, one key file, one secret key."""
    connection = redis_or_skip()
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(SigningKey.generate().pem())
    prefix = f"test:fcdev:shared:{tmp_path.name}:"
    shared = {
        "ISSUER": ISSUER,
        "CLIENTS": CLIENTS,
        "REDIS_URL": REDIS_URL,
        "REDIS_PREFIX": prefix,
        "SIGNING_KEY_FILE": str(key_file),
        "SECRET_KEY": "shared-secret-0123456789",
        "TESTING": True,
    }
    first, second = create_app(shared, environ={}), create_app(shared, environ={})
    try:
        one, two = FcActions(first.test_client()), FcActions(second.test_client())
        params = one.authorization_params()
        page_url, page = one.login_page(**params)
        two.client.set_cookie("fcdev_session", one.client.get_cookie("fcdev_session").value)  # type: ignore[union-attr]
        answer = two.answer(page_url, page, citizen="claire-jullien")
        code = answer.headers["Location"].split("code=")[1].split("&")[0]
        token = one.token(code)
        assert token.status_code == 200
        assert two.token(code).get_json()["error"] == "invalid_grant", "a code is single use across processes"
        body = token.get_json()
        assert two.verify(body["id_token"])[1]["aud"] == CLIENT_A["client_id"]
        assert two.userinfo_claims(body["access_token"])["family_name"] == "JULLIEN"
    finally:
        for application in (first, second):
            application.extensions[EXTENSION].store.close()
        keys = list(connection.scan_iter(match=prefix + "*"))
        if keys:
            connection.delete(*keys)
        connection.close()
