"""Logins: PIN hashing with a pepper, lockout, bearer and session tokens, one-time codes.

Plain functions over a session; the caller owns the transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from server.db import utcnow
from server.models import AuthToken, Login, OtpCode, Worker

# argon2id with the library's RFC 9106 low-memory profile: slow enough to resist offline
# guessing of short PINs, light enough for a 2-core server.
_hasher = PasswordHasher()

PIN_MIN_LENGTH = 4
PIN_MAX_LENGTH = 12
OTP_TTL = timedelta(minutes=10)
OTP_MAX_ATTEMPTS = 5


class AuthError(Exception):
    """A login that cannot go ahead; `code` is machine-readable, the message is for people."""

    def __init__(self, code: str, message: str, *, locked_until: datetime | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.locked_until = locked_until


def _peppered(secret: str, pepper: bytes) -> bytes:
    # HMAC first so that a stolen database without the pepper is useless for guessing.
    return hmac.new(pepper, secret.encode(), hashlib.sha256).digest()


def validate_pin(pin: str) -> str | None:
    """A reason why `pin` is not acceptable, or None."""
    if not pin.isdigit() or not pin.isascii():
        return "PIN must be digits only"
    if not PIN_MIN_LENGTH <= len(pin) <= PIN_MAX_LENGTH:
        return f"PIN must be {PIN_MIN_LENGTH} to {PIN_MAX_LENGTH} digits"
    return None


def hash_pin(pin: str, pepper: bytes) -> str:
    """The argon2id hash of the peppered PIN."""
    return _hasher.hash(_peppered(pin, pepper))


def check_pin(pin_hash: str, pin: str, pepper: bytes) -> bool:
    """True when `pin` matches `pin_hash`."""
    try:
        return _hasher.verify(pin_hash, _peppered(pin, pepper))
    except (VerificationError, InvalidHashError):
        return False


def set_pin(session: Session, worker: Worker, pin: str, pepper: bytes) -> Login:
    """Set or reset a worker's PIN, clearing any lockout."""
    problem = validate_pin(pin)
    if problem:
        raise AuthError("invalid_pin", problem)
    login = session.scalar(select(Login).where(Login.worker_id == worker.id))
    if login is None:
        login = Login(worker_id=worker.id)
        session.add(login)
    login.pin_hash = hash_pin(pin, pepper)
    login.pin_set_at = utcnow()
    login.failed_attempts = 0
    login.locked_until = None
    return login


@dataclass(frozen=True)
class LoginPolicy:
    """How many failures lock an account, and for how long."""

    max_failures: int = 5
    lockout: timedelta = timedelta(minutes=15)


def _find_login(session: Session, phone: str) -> tuple[Worker, Login] | None:
    row = session.execute(
        select(Worker, Login).join(Login, Login.worker_id == Worker.id).where(Worker.phone == phone)
    ).first()
    if row is None:
        return None
    return row[0], row[1]


def authenticate_pin(
    session: Session,
    phone: str,
    pin: str,
    pepper: bytes,
    policy: LoginPolicy = LoginPolicy(),
    now: datetime | None = None,
) -> Worker:
    """The worker whose phone and PIN these are; AuthError otherwise.

    Failures are counted per login and lock it for `policy.lockout` after
    `policy.max_failures`; the caller must commit even on failure so the count sticks.
    """
    now = now or utcnow()
    found = _find_login(session, phone)
    if found is None:
        # Same work as a real check, so timing does not reveal which phones exist.
        check_pin(_dummy_hash(), pin, pepper)
        raise AuthError("invalid_credentials", "phone or PIN is wrong")
    worker, login = found
    if not worker.active:
        raise AuthError("inactive", "this account is deactivated")
    if login.locked_until is not None and login.locked_until > now:
        raise AuthError("locked", "too many failed attempts", locked_until=login.locked_until)
    if login.pin_hash is None or not check_pin(login.pin_hash, pin, pepper):
        login.failed_attempts += 1
        if login.failed_attempts >= policy.max_failures:
            login.locked_until = now + policy.lockout
            login.failed_attempts = 0
            raise AuthError("locked", "too many failed attempts", locked_until=login.locked_until)
        raise AuthError("invalid_credentials", "phone or PIN is wrong")
    login.failed_attempts = 0
    login.locked_until = None
    login.last_login_at = now
    return worker


@cache
def _dummy_hash() -> str:
    return _hasher.hash(b"tanfang-dummy")


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    session: Session, worker: Worker, kind: str, ttl: timedelta, now: datetime | None = None
) -> tuple[str, AuthToken]:
    """A new random token for `worker`; only its digest is stored."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    row = AuthToken(
        token_hash=_token_digest(token),
        kind=kind,
        worker_id=worker.id,
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(row)
    session.flush()
    return token, row


def resolve_token(
    session: Session, token: str, kind: str, now: datetime | None = None
) -> Worker | None:
    """The active worker holding this unexpired, unrevoked token, or None."""
    now = now or utcnow()
    row = session.scalar(
        select(AuthToken).where(
            AuthToken.token_hash == _token_digest(token), AuthToken.kind == kind
        )
    )
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    worker = session.get(Worker, row.worker_id)
    if worker is None or not worker.active:
        return None
    return worker


def revoke_token(session: Session, token: str, now: datetime | None = None) -> bool:
    """Revoke a token (logout). True when there was one to revoke."""
    result = session.execute(
        update(AuthToken)
        .where(AuthToken.token_hash == _token_digest(token), AuthToken.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )
    return bool(getattr(result, "rowcount", 0))


def revoke_all_tokens(session: Session, worker_id: int, now: datetime | None = None) -> None:
    """Revoke every token of a worker (PIN reset, deactivation)."""
    session.execute(
        update(AuthToken)
        .where(AuthToken.worker_id == worker_id, AuthToken.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )


def create_otp(session: Session, worker: Worker, pepper: bytes, now: datetime | None = None) -> str:
    """A fresh six-digit code for `worker`; earlier unused codes stop working."""
    now = now or utcnow()
    session.execute(
        update(OtpCode)
        .where(OtpCode.worker_id == worker.id, OtpCode.used_at.is_(None))
        .values(used_at=now)
    )
    code = f"{secrets.randbelow(1_000_000):06d}"
    session.add(
        OtpCode(
            worker_id=worker.id,
            code_hash=hmac.new(pepper, code.encode(), hashlib.sha256).hexdigest(),
            created_at=now,
            expires_at=now + OTP_TTL,
        )
    )
    return code


def recent_otp_count(session: Session, worker_id: int, since: datetime) -> int:
    """How many codes were sent to this worker since `since` (for throttling)."""
    from sqlalchemy import func

    return int(
        session.scalar(
            select(func.count())
            .select_from(OtpCode)
            .where(OtpCode.worker_id == worker_id, OtpCode.created_at >= since)
        )
        or 0
    )


def authenticate_otp(
    session: Session, phone: str, code: str, pepper: bytes, now: datetime | None = None
) -> Worker:
    """The worker for a valid, unused, unexpired one-time code; AuthError otherwise."""
    now = now or utcnow()
    worker = session.scalar(select(Worker).where(Worker.phone == phone))
    if worker is None or not worker.active:
        raise AuthError("invalid_credentials", "phone or code is wrong")
    otp = session.scalar(
        select(OtpCode)
        .where(OtpCode.worker_id == worker.id, OtpCode.used_at.is_(None))
        .order_by(OtpCode.created_at.desc())
    )
    if otp is None or otp.expires_at <= now or otp.attempts >= OTP_MAX_ATTEMPTS:
        raise AuthError("invalid_credentials", "phone or code is wrong")
    digest = hmac.new(pepper, code.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(digest, otp.code_hash):
        otp.attempts += 1
        raise AuthError("invalid_credentials", "phone or code is wrong")
    otp.used_at = now
    return worker
