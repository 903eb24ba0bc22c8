"""The whole data model; importing this package registers every table on `Base.metadata`."""

from server.db import Base
from server.models.areas import Agency, AgencyArea, Area
from server.models.audit import AuditEntry, SchedulerLease
from server.models.auth import AuthToken, Login, OtpCode
from server.models.cases import Case, CaseEvent
from server.models.people import Elder, Worker, WorkerArea, WorkerLeave
from server.models.sms import OutboxItem, SmsMessage
from server.models.visits import CheckIn, Visit, VisitAssignment

__all__ = [
    "Agency",
    "AgencyArea",
    "Area",
    "AuditEntry",
    "AuthToken",
    "Base",
    "Case",
    "CaseEvent",
    "CheckIn",
    "Elder",
    "Login",
    "OtpCode",
    "OutboxItem",
    "SchedulerLease",
    "SmsMessage",
    "Visit",
    "VisitAssignment",
    "Worker",
    "WorkerArea",
    "WorkerLeave",
]
