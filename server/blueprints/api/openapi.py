"""The API's OpenAPI 3.1 document at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from server.blueprints.api import bp
from server.runtime import config
from server.vocab import CASE_KINDS, CASE_STATUSES, CHANNELS, NEEDS, OUTCOMES, SERVICES


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS = {
    code: {"$ref": f"#/components/responses/{name}"}
    for code, name in (("401", "Unauthorized"), ("403", "Forbidden"), ("404", "NotFound"),
                       ("422", "Invalid"))
}

MONTH = {"name": "month", "in": "query", "schema": {"type": "string", "pattern": r"^\d{4}-\d{2}$"}}


def document() -> dict[str, Any]:
    """Build the document (cheap; built per request so the server URL follows config)."""
    secured: list[dict[str, list[str]]] = [{"bearer": []}]
    return {
        "openapi": "3.1.0",
        "info": {"title": "Tanfang API", "version": "1"},
        "servers": [{"url": f"{config().public_url}/api/v1"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message", "fields"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "fields": {"type": "object",
                                           "additionalProperties": {"type": "string"}},
                            },
                        }
                    },
                },
                "VisitElder": {
                    "type": "object",
                    "properties": {k: {"type": t} for k, t in (
                        ("id", "integer"), ("code", "string"), ("name", "string"),
                        ("phone", ["string", "null"]), ("address", ["string", "null"]),
                        ("lat", ["number", "null"]), ("lon", ["number", "null"]))},
                },
                "Visit": {
                    "type": "object",
                    "required": ["id", "elder", "due_date", "status"],
                    "properties": {
                        "id": {"type": "integer"},
                        "month": {"type": "string"},
                        "elder": _ref("VisitElder"),
                        "due_date": {"type": "string", "format": "date"},
                        "status": {"enum": ["planned", "done", "missed", "cancelled"]},
                        "outcome": {"enum": [*OUTCOMES, None]},
                        "channel": {"enum": [*CHANNELS, None]},
                    },
                },
                "CheckIn": {
                    "type": "object",
                    "required": ["client_id", "occurred_at", "outcome"],
                    "properties": {
                        "client_id": {"type": "string", "maxLength": 64},
                        "occurred_at": {"type": "string", "format": "date-time"},
                        "lat": {"type": ["number", "null"]},
                        "lon": {"type": ["number", "null"]},
                        "accuracy_m": {"type": ["number", "null"]},
                        "outcome": {"enum": list(OUTCOMES)},
                        "mood": {"type": ["integer", "null"], "minimum": 1, "maximum": 5},
                        "phq2": {"type": ["array", "null"], "items": {"type": "integer",
                                 "minimum": 0, "maximum": 3}, "minItems": 2, "maxItems": 2},
                        "needs": {"type": "array", "items": {"enum": list(NEEDS)}},
                        "services": {"type": "array", "items": {"enum": list(SERVICES)}},
                        "note": {"type": ["string", "null"]},
                    },
                },
                "Case": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "kind": {"enum": list(CASE_KINDS)},
                        "priority": {"type": "string"},
                        "status": {"enum": list(CASE_STATUSES)},
                        "elder": {"type": "object", "properties": {
                            "id": {"type": "integer"}, "external_id": {"type": "string"},
                            "code": {"type": "string"}}},
                        "agency": {"type": ["object", "null"]},
                        "owner": {"type": ["string", "null"]},
                        "created_at": {"type": "string", "format": "date-time"},
                        "ack_due_at": {"type": ["string", "null"], "format": "date-time"},
                    },
                },
                "Completion": {
                    "type": "object",
                    "properties": {k: {"type": t} for k, t in (
                        ("month", "string"), ("area", "string"), ("elders", "integer"),
                        ("visited", "integer"), ("rate", "number"),
                        ("visits_required", "integer"), ("visits_done", "integer"),
                        ("children", "array"))},
                },
            },
            "responses": {
                name: _json(_ref("Error"), description)
                for name, description in (
                    ("Unauthorized", "no valid bearer token"),
                    ("Forbidden", "not allowed for your role or scope"),
                    ("NotFound", "not found in your scope"),
                    ("Invalid", "invalid fields"),
                )
            },
        },
        "paths": {
            "/auth/token": {"post": {
                "summary": "Sign in with phone and PIN or one-time code",
                "requestBody": {"content": {"application/json": {"schema": {
                    "type": "object", "required": ["phone"],
                    "properties": {"phone": {"type": "string"}, "pin": {"type": "string"},
                                   "otp": {"type": "string"}}}}}},
                "responses": {"200": _json({"type": "object", "properties": {
                    "token": {"type": "string"}, "expires_at": {"type": "string"},
                    "user": {"type": "object"}}}), "401": ERRORS["401"],
                    "422": ERRORS["422"], "429": {"description": "locked or throttled"}},
            }},
            "/auth/otp": {"post": {
                "summary": "Send a one-time code by SMS",
                "responses": {"202": {"description": "sent if the phone is known"},
                              "429": {"description": "throttled"}},
            }},
            "/auth/logout": {"post": {"summary": "Revoke this token", "security": secured,
                                      "responses": {"200": {"description": "OK"},
                                                    "401": ERRORS["401"]}}},
            "/me": {"get": {"summary": "The signed-in person", "security": secured,
                            "responses": {"200": {"description": "OK"}, "401": ERRORS["401"]}}},
            "/elders": {"get": {"summary": "Elders in scope", "security": secured,
                                "responses": {"200": {"description": "OK"}, **ERRORS}}},
            "/elders/{id}": {"get": {"summary": "One elder", "security": secured,
                                     "responses": {"200": {"description": "OK"}, **ERRORS}}},
            "/elders/{id}/card": {"get": {
                "summary": "The worker app's elder card: contact, last visit, open cases",
                "security": secured, "responses": {"200": {"description": "OK"}, **ERRORS}}},
            "/visits": {"get": {
                "summary": "The caller's visits", "security": secured,
                "parameters": [MONTH, {"name": "status", "in": "query",
                                       "schema": {"enum": ["open", "done", "all"]}}],
                "responses": {"200": _json({"type": "object", "properties": {
                    "visits": {"type": "array", "items": _ref("Visit")}}}), **ERRORS},
            }},
            "/visits/{id}": {"get": {"summary": "One visit in scope", "security": secured,
                                     "responses": {"200": _json({"type": "object", "properties": {
                                         "visit": _ref("Visit")}}), **ERRORS}}},
            "/visits/{id}/checkins": {"post": {
                "summary": "Record a check-in (idempotent by client_id)", "security": secured,
                "requestBody": {"content": {"application/json": {"schema": _ref("CheckIn")}}},
                "responses": {"201": {"description": "created"},
                              "200": {"description": "already recorded"}, **ERRORS},
            }},
            "/workers": {"get": {"summary": "Workers in scope", "security": secured,
                                 "responses": {"200": {"description": "OK"}, **ERRORS}}},
            "/workers/{id}": {"get": {"summary": "One worker in scope (or oneself)",
                                      "security": secured,
                                      "responses": {"200": {"description": "OK"}, **ERRORS}}},
            "/cases": {"get": {
                "summary": "Cases in scope", "security": secured,
                "parameters": [
                    {"name": "status", "in": "query", "schema": {"enum": list(CASE_STATUSES)}},
                    {"name": "kind", "in": "query", "schema": {"enum": list(CASE_KINDS)}}],
                "responses": {"200": _json({"type": "object", "properties": {
                    "cases": {"type": "array", "items": _ref("Case")}}}), **ERRORS},
            }},
            "/cases/{id}": {"get": {"summary": "One case with its timeline", "security": secured,
                                    "responses": {"200": _json({"type": "object", "properties": {
                                        "case": _ref("Case")}}), **ERRORS}}},
            "/cases/{id}/ack": {"post": {"summary": "Acknowledge", "security": secured,
                                         "responses": {"200": {"description": "OK"}, **ERRORS,
                                                       "409": {"description": "resolved"}}}},
            "/cases/{id}/resolve": {"post": {"summary": "Resolve with a note",
                                             "security": secured,
                                             "responses": {"200": {"description": "OK"},
                                                           **ERRORS}}},
            "/reports/completion": {"get": {
                "summary": "Completion against the monthly target", "security": secured,
                "parameters": [MONTH, {"name": "area", "in": "query",
                                       "schema": {"type": "string"}}],
                "responses": {"200": _json(_ref("Completion")), **ERRORS},
            }},
        },
    }


@bp.get("/openapi.json")
def openapi_json() -> Response:
    """The OpenAPI document."""
    return jsonify(document())
