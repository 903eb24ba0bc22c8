"""Configuration read from the environment (and a `.env` file in the working directory)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

SUPPORTED_LOCALES = ("zh_CN", "en")
SMS_BACKENDS = ("console", "twilio")
DEFAULT_DATABASE_URL = "sqlite:///instance/tanfang.db"


class ConfigError(ValueError):
    """A configuration value is missing or invalid."""


def _environment() -> dict[str, str]:
    """The process environment over the values of `./.env` (the environment wins)."""
    values: dict[str, str] = {}
    env_file = Path.cwd() / ".env"
    if env_file.is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ)
    return values


@dataclass(frozen=True)
class Config:
    """Every setting of SPEC section 2, typed and validated."""

    database_url: str = DEFAULT_DATABASE_URL
    secret_key: str | None = field(default=None, repr=False)  # a secret
    timezone: str = "Asia/Shanghai"
    locale: str = "zh_CN"
    public_url: str = "http://127.0.0.1:5000"
    sms_backend: str = "console"
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = field(default=None, repr=False)  # a secret
    # the secret of the SharedKey a Twilio Webhook Setting signs webhooks with, if any
    twilio_webhook_shared_key: str | None = field(default=None, repr=False)  # a secret
    twilio_messaging_service_sid: str | None = None
    sms_from: str | None = None
    twilio_api_url: str | None = None
    sms_rate: float = 1.0
    sms_signature: str = "【暖心探访】"
    rules_path: str | None = None
    crisis_hotline: str = "12356"
    # days between wellness checks by risk tier (SPEC 8: high twice a week, elevated weekly,
    # standard every two weeks)
    wellness_days: dict[str, int] = field(
        default_factory=lambda: {"high": 3, "elevated": 7, "standard": 14}
    )
    pin_pepper: str | None = field(default=None, repr=False)  # a secret
    token_ttl_hours: int = 12
    session_ttl_hours: int = 12
    max_failed_logins: int = 5
    lockout_minutes: int = 15
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def tz(self) -> ZoneInfo:
        """The zone in which every day and month is counted."""
        return ZoneInfo(self.timezone)

    @classmethod
    def from_env(cls, overrides: dict[str, str] | None = None) -> Config:
        """Build the configuration from the environment, `.env` and explicit overrides."""
        env = _environment()
        if overrides:
            env.update(overrides)

        def get(name: str) -> str | None:
            value = env.get(name)
            return value if value not in (None, "") else None

        config = cls(
            database_url=get("TANFANG_DATABASE_URL") or DEFAULT_DATABASE_URL,
            secret_key=get("TANFANG_SECRET_KEY"),
            timezone=get("TANFANG_TIMEZONE") or "Asia/Shanghai",
            locale=get("TANFANG_LOCALE") or "zh_CN",
            public_url=(get("TANFANG_PUBLIC_URL") or "http://127.0.0.1:5000").rstrip("/"),
            sms_backend=get("TANFANG_SMS_BACKEND") or "console",
            twilio_account_sid=get("TWILIO_ACCOUNT_SID"),
            twilio_auth_token=get("TWILIO_AUTH_TOKEN"),
            twilio_webhook_shared_key=get("TWILIO_WEBHOOK_SHARED_KEY"),
            twilio_messaging_service_sid=get("TWILIO_MESSAGING_SERVICE_SID"),
            sms_from=get("TANFANG_SMS_FROM"),
            twilio_api_url=get("TANFANG_TWILIO_API_URL"),
            sms_rate=_float(get("TANFANG_SMS_RATE") or "1", "TANFANG_SMS_RATE"),
            sms_signature=env.get("TANFANG_SMS_SIGNATURE", "【暖心探访】"),
            rules_path=get("TANFANG_RULES"),
            crisis_hotline=get("TANFANG_CRISIS_HOTLINE") or "12356",
            wellness_days=_wellness_days(get("TANFANG_WELLNESS_DAYS")),
            pin_pepper=get("TANFANG_PIN_PEPPER"),
            token_ttl_hours=_int(get("TANFANG_TOKEN_TTL_HOURS") or "12", "TANFANG_TOKEN_TTL_HOURS"),
            session_ttl_hours=_int(
                get("TANFANG_SESSION_TTL_HOURS") or "12", "TANFANG_SESSION_TTL_HOURS"
            ),
        )
        config.validate()
        return config

    def validate(self) -> None:
        """Raise ConfigError naming the first bad setting."""
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"TANFANG_TIMEZONE: unknown time zone {self.timezone!r}") from exc
        if self.locale not in SUPPORTED_LOCALES:
            raise ConfigError(
                f"TANFANG_LOCALE: {self.locale!r} is not one of {', '.join(SUPPORTED_LOCALES)}"
            )
        if self.sms_backend not in SMS_BACKENDS:
            raise ConfigError(
                f"TANFANG_SMS_BACKEND: {self.sms_backend!r} is not one of {', '.join(SMS_BACKENDS)}"
            )
        if self.sms_rate <= 0:
            raise ConfigError("TANFANG_SMS_RATE: must be a positive number")

    def with_demo_defaults(self) -> Config:
        """A copy with a random secret key when none is set (the demo only)."""
        from dataclasses import replace

        if self.secret_key:
            return self
        return replace(self, secret_key=secrets.token_urlsafe(32))

    @property
    def pepper(self) -> bytes:
        """The server-side pepper mixed into every PIN hash."""
        return (self.pin_pepper or self.secret_key or "").encode()


def _wellness_days(value: str | None) -> dict[str, int]:
    """`high=3,elevated=7,standard=14` (any subset) over the defaults."""
    days = {"high": 3, "elevated": 7, "standard": 14}
    if not value:
        return days
    for part in value.split(","):
        tier, _, number = part.partition("=")
        tier = tier.strip()
        if tier not in days or not number.strip().isdigit() or int(number) < 1:
            raise ConfigError(
                f"TANFANG_WELLNESS_DAYS: {part.strip()!r} is not TIER=DAYS"
                " (tiers: high, elevated, standard; days at least 1)"
            )
        days[tier] = int(number)
    return days


def _float(value: str, name: str) -> float:
    try:
        return float(value)
    except ValueError as exc:
        raise ConfigError(f"{name}: {value!r} is not a number") from exc


def _int(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError as exc:
        raise ConfigError(f"{name}: {value!r} is not a whole number") from exc
