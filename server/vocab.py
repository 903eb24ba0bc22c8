"""The product's vocabulary (SPEC sections 4, 5 and 10): one word for one idea."""

from __future__ import annotations

# Visits per month by tier (SPEC section 6): the planner's table is the one source.
from scheduler.model import VISITS_PER_TIER as VISITS_PER_MONTH

__all__ = ["VISITS_PER_MONTH"]  # and the tuples below

AREA_LEVELS = ("region", "city", "county", "street", "community", "grid")
ROLES = ("grid_worker", "volunteer", "social_worker", "supervisor", "admin")
VISITING_ROLES = ("grid_worker", "volunteer")
HOUSEHOLDS = ("shidu", "shangcan", "living_alone", "left_behind", "other")
DISABILITIES = ("none", "partial", "full")
RISK_TIERS = ("standard", "elevated", "high")
GENDERS = ("M", "F")
LOCALES = ("zh_CN", "en")

ELDER_STATUSES = ("active", "deactivated")
VISIT_STATUSES = ("planned", "done", "missed", "cancelled")
VISIT_KINDS = ("routine", "follow_up", "extra")
CHANNELS = ("pwa", "sms", "web")
OUTCOMES = ("seen", "not_home", "refused", "hospitalized", "moved", "deceased")
NEEDS = (
    "hardship",
    "psychological",
    "emotional",
    "family_mediation",
    "daily_care",
    "medical",
    "policy",
    "errand",
)
SERVICES = ("visit", "policy_advice", "daily_care", "errand", "health_check", "companionship")

CASE_KINDS = ("crisis", "psych_support", "help", "unreachable", "overdue")
CASE_STATUSES = ("open", "acknowledged", "resolved")
CASE_PRIORITIES = ("urgent", "high", "normal", "low")
CASE_TRIGGERS = (
    "checkin",
    "elder_reply",
    "worker_help",
    "visit_missed",
    "no_reply",
    "delivery_failed",
    "month_end",
)
ROUTE_TARGETS = ("agency", "primary_contact", "supervisor")

SMS_DIRECTIONS = ("in", "out")
# Twilio's message statuses plus our own `queued`/`held` before the provider sees it.
SMS_STATUSES = (
    "queued",
    "held",
    "accepted",
    "scheduled",
    "sending",
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "received",
    "canceled",
)
OUTBOX_STATES = ("pending", "claimed", "sent", "failed", "cancelled")
TOKEN_KINDS = ("api", "web")
