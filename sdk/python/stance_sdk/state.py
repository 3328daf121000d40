"""The detector's key-value store, kept by the host across batches and reloads.

Values are bytes; `get_json`/`set_json` store JSON. Keys are listed in byte
order by prefix. Only the detector world imports it.
"""

from __future__ import annotations

import json
from typing import Any

from . import _host
from ._host import StateError

__all__ = ["StateError", "get", "set", "delete", "keys", "get_json", "set_json"]


def get(key: str) -> bytes | None:
    """The bytes stored under `key`, or None."""
    return _host.current().state_get(key)


def set(key: str, value: bytes) -> None:  # noqa: A001 - mirrors the WIT name
    """Store `value` under `key`. Raises StateError when the quota would be exceeded."""
    if not isinstance(value, (bytes, bytearray)):
        raise TypeError(f"state.set({key!r}): value must be bytes, not {type(value).__name__}")
    _host.current().state_set(key, bytes(value))


def delete(key: str) -> None:
    """Remove `key` (nothing happens when it is absent)."""
    _host.current().state_delete(key)


def keys(prefix: str = "") -> list[str]:
    """Keys that start with `prefix`, in byte order."""
    return _host.current().state_keys(prefix)


def get_json(key: str, default: Any = None) -> Any:
    """The JSON value stored under `key`, or `default` when absent.

    Raises StateError when the stored bytes are not JSON.
    """
    raw = get(key)
    if raw is None:
        return default
    try:
        return json.loads(raw)
    except ValueError as e:
        raise StateError(f"state {key}: stored value is not JSON: {e}") from None


def set_json(key: str, value: Any) -> None:
    """Store `value` as compact JSON under `key`."""
    set(key, json.dumps(value, separators=(",", ":")).encode())
