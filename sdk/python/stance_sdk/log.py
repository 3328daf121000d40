"""Logging through the host: lines land in Stance's log tagged with the
plugin's name. A component has no stdout or stderr worth writing to.
"""

from __future__ import annotations

from . import _host


def trace(message: str) -> None:
    _host.current().log("trace", message)


def debug(message: str) -> None:
    _host.current().log("debug", message)


def info(message: str) -> None:
    _host.current().log("info", message)


def warn(message: str) -> None:
    _host.current().log("warn", message)


def error(message: str) -> None:
    _host.current().log("error", message)
