"""Configuration comes from the environment and a `.env` file in the working directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.config import Config, ConfigError


def test_dotenv_is_read_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text(
        "TANFANG_LOCALE=en\nTANFANG_SMS_RATE=5\nTANFANG_TIMEZONE=Asia/Urumqi\n", encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TANFANG_LOCALE", raising=False)
    monkeypatch.delenv("TANFANG_SMS_RATE", raising=False)
    monkeypatch.setenv("TANFANG_TIMEZONE", "Asia/Shanghai")
    config = Config.from_env()
    assert config.locale == "en"
    assert config.sms_rate == 5.0
    assert config.timezone == "Asia/Shanghai"


def test_defaults_follow_the_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in (
        "TANFANG_DATABASE_URL",
        "TANFANG_LOCALE",
        "TANFANG_TIMEZONE",
        "TANFANG_SMS_BACKEND",
        "TANFANG_SMS_RATE",
        "TANFANG_CRISIS_HOTLINE",
        "TANFANG_PUBLIC_URL",
        "TANFANG_SMS_SIGNATURE",
    ):
        monkeypatch.delenv(name, raising=False)
    config = Config.from_env()
    assert config.database_url == "sqlite:///instance/tanfang.db"
    assert (config.locale, config.timezone, config.sms_backend) == (
        "zh_CN",
        "Asia/Shanghai",
        "console",
    )
    assert (config.sms_rate, config.crisis_hotline) == (1.0, "12356")
    assert config.public_url == "http://127.0.0.1:5000"
    assert config.sms_signature == "【暖心探访】"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TANFANG_SMS_RATE", "fast"),
        ("TANFANG_SMS_RATE", "0"),
        ("TANFANG_SMS_BACKEND", "pigeon"),
        ("TANFANG_WELLNESS_DAYS", "high=0"),
        ("TANFANG_WELLNESS_DAYS", "weekly"),
    ],
)
def test_a_bad_value_is_named(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Config.from_env({name: value})


def test_the_twilio_secrets_are_read() -> None:
    config = Config.from_env({"TWILIO_AUTH_TOKEN": "tok", "TWILIO_WEBHOOK_SHARED_KEY": "shared"})
    assert (config.twilio_auth_token, config.twilio_webhook_shared_key) == ("tok", "shared")
    assert Config.from_env({"TWILIO_WEBHOOK_SHARED_KEY": ""}).twilio_webhook_shared_key is None


def test_secrets_stay_out_of_the_configurations_text() -> None:
    config = Config.from_env(
        {"TWILIO_AUTH_TOKEN": "tok-9f2", "TWILIO_WEBHOOK_SHARED_KEY": "shr-7c1",
         "TANFANG_SECRET_KEY": "sk-4d8", "TANFANG_PIN_PEPPER": "pp-1a5"}
    )
    text = repr(config)
    assert not any(secret in text for secret in ("tok-9f2", "shr-7c1", "sk-4d8", "pp-1a5"))
