"""Placeholder replaced below."""
from flask import Flask


def init_security(app: Flask) -> None:
    """Wire authentication into the app."""
