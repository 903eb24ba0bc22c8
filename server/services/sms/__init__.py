"""The pure side of SMS (SPEC section 8): normalising and parsing what phones send, counting
segments, and rendering the templates in sms_templates/. No database, Flask or network here;
the webhooks, the outbox dispatcher and the backends call these."""

from __future__ import annotations

from server.services.sms.grammar import (
    DigitReply,
    Done,
    ElderMessage,
    FreeText,
    Help,
    ListVisits,
    Miss,
    OptIn,
    OptOut,
    UsageError,
    WorkerMessage,
    parse_elder,
    parse_opt,
    parse_worker,
)
from server.services.sms.normalize import normalize, tidy
from server.services.sms.segments import Segments, segments
from server.services.sms.templates import (
    TemplateError,
    TemplateSet,
    TemplateSpec,
    load_templates,
)

__all__ = [
    "DigitReply",
    "Done",
    "ElderMessage",
    "FreeText",
    "Help",
    "ListVisits",
    "Miss",
    "OptIn",
    "OptOut",
    "Segments",
    "TemplateError",
    "TemplateSet",
    "TemplateSpec",
    "UsageError",
    "WorkerMessage",
    "load_templates",
    "normalize",
    "parse_elder",
    "parse_opt",
    "parse_worker",
    "segments",
    "tidy",
]
