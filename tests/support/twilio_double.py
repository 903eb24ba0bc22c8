"""A local stand-in for Twilio's Messages API that the real SDK can talk to.

    with TwilioDouble() as double:
        backend = TwilioBackend(ACCOUNT_SID, AUTH_TOKEN, from_=SENDER, api_url=double.url)
        double.script(Reply(429), Reply(201))       # the next POSTs, in order
        double.script_for("+8613800000001", Reply(400, code=21610))   # for one number

It implements what the dispatcher uses, as Twilio does:
- POST /2010-04-01/Accounts/{AccountSid}/Messages.json, form fields To, From or
  MessagingServiceSid, Body, StatusCallback; 201 with the message's JSON (sid, status
  `queued` or `accepted` with a Messaging Service, num_segments, error_code null...), or what
  the test scripted: 429, 500, or 400 with {"code", "message", "more_info", "status"};
- GET the same path with ?To=&PageSize=: the messages it took for that number, newest first.
It checks HTTP basic auth against the account, records every request (`requests`) and every
message it took (`messages`), and can enforce a rate limit (a token bucket: `rate` per
second, `burst` at once; 429 with code 20429 beyond it).

Run standalone (the benchmark does): python -m tests.support.twilio_double [--port N]
"""

from __future__ import annotations

import argparse
import base64
import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from server.services.sms.segments import segments

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "double-auth-token-0123456789abcdef"
API_PREFIX = "/2010-04-01/Accounts/"

ERROR_MESSAGES = {
    20003: "Authenticate",
    20429: "Too Many Requests",
    21211: "Invalid 'To' Phone Number",
    21602: "Message body is required.",
    21604: "A 'To' phone number is required.",
    21606: "The 'From' phone number provided is not a valid message-capable Twilio number.",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
    20500: "Internal Server Error",
}


@dataclass(frozen=True)
class Reply:
    """One scripted answer: 201 (taken), or an HTTP error with a Twilio error code."""

    status: int = 201
    code: int | None = None
    delay_s: float = 0.0  # wait before answering (a slow provider, a timeout)
    segments: int | None = None  # num_segments to report instead of the computed one
    drop: bool = False  # close the connection without answering

    def error_body(self) -> dict[str, Any]:
        code = self.code or {429: 20429, 500: 20500, 401: 20003}.get(self.status, self.status)
        return {
            "code": code,
            "message": ERROR_MESSAGES.get(code, "Error"),
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": self.status,
        }


@dataclass(frozen=True)
class Recorded:
    """One request the double received and what it answered."""

    method: str
    path: str
    form: dict[str, str]
    status: int
    at: float  # time.monotonic() on arrival

    @property
    def to(self) -> str:
        return self.form.get("To", "")

    @property
    def body(self) -> str:
        return self.form.get("Body", "")


class _TokenBucket:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.capacity = rate, float(max(burst, 1))
        self.tokens, self.at = self.capacity, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclass
class TwilioDouble:
    """The double's state and its HTTP server (started by `start()` or `with`)."""

    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    rate: float | None = None  # messages per second before 429s; None: no limit
    burst: int = 1
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[Recorded] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    arrivals: list[str] = field(default_factory=list)  # the To of each POST, on arrival

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._script: deque[Reply] = deque()
        self._per_number: dict[str, deque[Reply]] = {}
        self._bucket = _TokenBucket(self.rate, self.burst) if self.rate else None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- scripting and reading --

    def script(self, *replies: Reply) -> None:
        """Answer the next POSTs (any number) with `replies`, in order; then 201 again."""
        with self._lock:
            self._script.extend(replies)

    def script_for(self, to: str, *replies: Reply) -> None:
        """Answer the next POSTs to `to` with `replies`, in order; then 201 again."""
        with self._lock:
            self._per_number.setdefault(to, deque()).extend(replies)

    def set_rate_limit(self, rate: float | None, burst: int = 1) -> None:
        """Enforce (or lift) a limit of `rate` messages per second."""
        with self._lock:
            self.rate, self.burst = rate, burst
            self._bucket = _TokenBucket(rate, burst) if rate else None

    @property
    def posts(self) -> list[Recorded]:
        """Every POST to Messages.json, whatever the answer."""
        with self._lock:
            return [r for r in self.requests if r.method == "POST"]

    @property
    def too_many(self) -> int:
        """How many POSTs were refused with 429."""
        return sum(1 for r in self.posts if r.status == 429)

    def taken(self) -> list[dict[str, Any]]:
        """The messages answered with 201, oldest first."""
        with self._lock:
            return list(self.messages)

    def reset(self) -> None:
        """Forget requests, messages and scripts."""
        with self._lock:
            self.requests.clear()
            self.messages.clear()
            self.arrivals.clear()
            self._script.clear()
            self._per_number.clear()

    # -- the server --

    @property
    def url(self) -> str:
        """The base URL to give TANFANG_TWILIO_API_URL."""
        assert self._server is not None, "start the double first"
        return f"http://{self.host}:{self._server.server_address[1]}"

    def start(self) -> TwilioDouble:
        """Listen on a free loopback port in a background thread."""
        double = self

        class Handler(_Handler):
            owner = double

        self._server = _QuietServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="twilio-double",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> TwilioDouble:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- what the handler calls --

    def _next_reply(self, to: str) -> Reply:
        with self._lock:
            queue = self._per_number.get(to)
            if queue:
                return queue.popleft()
            if self._script:
                return self._script.popleft()
        return Reply()

    def _arrived(self, to: str) -> None:
        with self._lock:
            self.arrivals.append(to)

    def _limited(self) -> bool:
        with self._lock:
            return self._bucket is not None and not self._bucket.take()

    def _record(self, method: str, path: str, form: dict[str, str], status: int, at: float) -> None:
        with self._lock:
            self.requests.append(Recorded(method, path, form, status, at))

    def _take(self, form: dict[str, str], reply: Reply) -> dict[str, Any]:
        now = format_datetime(_utcnow(), usegmt=True)
        sid = "SM" + uuid.uuid4().hex
        service = form.get("MessagingServiceSid")
        message = {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": form.get("Body", ""),
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": service,
            "num_media": "0",
            "num_segments": str(reply.segments or segments(form.get("Body", ""))[1]),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "accepted" if service else "queued",
            "subresource_uris": {
                "media": f"{API_PREFIX}{self.account_sid}/Messages/{sid}/Media.json"
            },
            "to": form.get("To"),
            "uri": f"{API_PREFIX}{self.account_sid}/Messages/{sid}.json",
            "status_callback": form.get("StatusCallback"),
        }
        with self._lock:
            self.messages.append(message)
        return message

    def _list(self, to: str | None, size: int) -> list[dict[str, Any]]:
        with self._lock:
            found = [m for m in reversed(self.messages) if to is None or m["to"] == to]
        return found[:size]


def _utcnow() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # a client that went away mid-answer (killed, timed out) is expected here


class _Handler(BaseHTTPRequestHandler):
    owner: TwilioDouble
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's requests session expects
    # Headers and body in one write, and no Nagle: else each answer waits ~40 ms for a
    # delayed ACK.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _answer(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self) -> bool:
        path = urlsplit(self.path).path
        expected = f"{API_PREFIX}{self.owner.account_sid}/Messages.json"
        if path != expected:
            self._answer(404, {"code": 20404, "message": "Not Found", "status": 404})
            return False
        header = self.headers.get("Authorization", "")
        wanted = base64.b64encode(
            f"{self.owner.account_sid}:{self.owner.auth_token}".encode()
        ).decode()
        if header != f"Basic {wanted}":
            self._answer(401, Reply(401).error_body())
            return False
        return True

    def do_POST(self) -> None:
        at = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode()
        form = {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        self.owner._arrived(form.get("To", ""))
        if not self._route():
            self.owner._record("POST", self.path, form, 404, at)
            return
        if self.owner._limited():
            self.owner._record("POST", self.path, form, 429, at)
            self._answer(429, Reply(429).error_body())
            return
        missing = (
            21604
            if not form.get("To")
            else 21606
            if not (form.get("From") or form.get("MessagingServiceSid"))
            else 21602
            if not form.get("Body")
            else None
        )
        reply = Reply(400, code=missing) if missing else self.owner._next_reply(form["To"])
        if reply.delay_s:
            time.sleep(reply.delay_s)
        self.owner._record("POST", self.path, form, reply.status, at)
        if reply.drop:
            self.close_connection = True
            self.connection.close()
            return
        try:
            if reply.status == 201:
                self._answer(201, self.owner._take(form, reply))
            else:
                self._answer(reply.status, reply.error_body())
        except OSError:  # the client went away (timed out, killed): Twilio keeps the message
            self.close_connection = True

    def do_GET(self) -> None:
        at = time.monotonic()
        query = {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}
        if not self._route():
            return
        self.owner._record("GET", self.path, query, 200, at)
        size = int(query.get("PageSize", "50"))
        found = self.owner._list(query.get("To"), size)
        uri = urlsplit(self.path).path
        self._answer(
            200,
            {
                "messages": found,
                "end": max(len(found) - 1, 0),
                "first_page_uri": f"{uri}?PageSize={size}&Page=0",
                "next_page_uri": None,
                "page": 0,
                "page_size": size,
                "previous_page_uri": None,
                "start": 0,
                "uri": f"{uri}?PageSize={size}&Page=0",
            },
        )


def main() -> None:
    """Run the double in the foreground, printing its URL."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--rate", type=float, default=None)
    parser.add_argument("--burst", type=int, default=1)
    args = parser.parse_args()
    double = TwilioDouble(port=args.port, rate=args.rate, burst=args.burst).start()
    print(double.url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        double.stop()


if __name__ == "__main__":
    main()
