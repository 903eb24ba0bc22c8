"""The `tanfang` command line (SPEC section 3).

Exit status: 0 success, 1 invalid input (every problem listed), 2 misuse.
Each command module adds its commands to `main`; the app and its database are built lazily
inside a command, never at import.
"""

from __future__ import annotations

from server.cli import db as _db  # noqa: F401  (registers commands)
from server.cli import imports as _imports  # noqa: F401
from server.cli import plan as _plan  # noqa: F401
from server.cli import report as _report  # noqa: F401
from server.cli import scheduler_cmd as _scheduler  # noqa: F401
from server.cli import seed as _seed  # noqa: F401
from server.cli import serve as _serve  # noqa: F401
from server.cli import sms as _sms  # noqa: F401
from server.cli import sms_commands as _sms_commands  # noqa: F401
from server.cli import users as _users  # noqa: F401
from server.cli import workers as _workers  # noqa: F401
from server.cli.base import main

__all__ = ["main"]
