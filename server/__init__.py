"""Tanfang's web service: the Flask app factory and everything it wires together."""

from __future__ import annotations

from server.app import create_app

__all__ = ["create_app"]
