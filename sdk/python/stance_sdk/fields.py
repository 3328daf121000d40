"""Reading typed fields out of asset and event bodies by path.

Paths are dotted (`versioning.status`) with `[n]` for list elements
(`rules[0].sse_algorithm`) and `["a.b"]` for keys that hold dots; a missing
step yields None, never an exception. Pure Python: no host bindings needed.
"""

from __future__ import annotations

import json
from typing import Any, Union

Segment = Union[str, int]
"""One step of a path: a key of an object or an index of a list."""


def split_path(path: str) -> list[Segment]:
    """The steps of `path`: `a.b[0]["c.d"]` -> ["a", "b", 0, "c.d"].

    An index that is not a non-negative integer (`[x]`) is a key, as in the
    Rust SDK. Raises ValueError on an unclosed bracket or quote.
    """
    segments: list[Segment] = []
    key = ""
    i = 0
    n = len(path)
    while i < n:
        ch = path[i]
        if ch == ".":
            if key:
                segments.append(key)
            key = ""
            i += 1
        elif ch == "[":
            if key:
                segments.append(key)
            key = ""
            i, segment = _bracket(path, i)
            segments.append(segment)
        else:
            key += ch
            i += 1
    if key:
        segments.append(key)
    return segments


def _bracket(path: str, start: int) -> tuple[int, Segment]:
    """Parse `[...]` at `start`; return the index after it and its segment."""
    i = start + 1
    if i < len(path) and path[i] in "\"'":
        quote = path[i]
        end = path.find(quote, i + 1)
        if end < 0 or end + 1 >= len(path) or path[end + 1] != "]":
            raise ValueError(f"path {path!r}: unclosed quoted key at offset {start}")
        return end + 2, path[i + 1 : end]
    end = path.find("]", i)
    if end < 0:
        raise ValueError(f"path {path!r}: unclosed '[' at offset {start}")
    inner = path[i:end]
    if inner.isdigit() and inner.isascii():
        return end + 1, int(inner)
    return end + 1, inner


def field(value: Any, path: str) -> Any:
    """The value at `path` inside `value`, or None when any step is missing.

    A JSON null at the end of the path also reads as None; use `has_field`
    to tell "present and null" from "absent".
    """
    found, result = _walk(value, path)
    return result if found else None


def has_field(value: Any, path: str) -> bool:
    """Whether every step of `path` exists (the value may be null)."""
    return _walk(value, path)[0]


def _walk(value: Any, path: str) -> tuple[bool, Any]:
    current = value
    for segment in split_path(path):
        if isinstance(segment, int):
            if not isinstance(current, list) or segment >= len(current):
                return False, None
            current = current[segment]
        else:
            if not isinstance(current, dict) or segment not in current:
                return False, None
            current = current[segment]
    return True, current


def field_str(value: Any, path: str) -> str | None:
    """The string at `path`, or None when it is missing or not a string."""
    v = field(value, path)
    return v if isinstance(v, str) else None


def field_bool(value: Any, path: str) -> bool | None:
    """The boolean at `path`, or None when it is missing or not a boolean."""
    v = field(value, path)
    return v if isinstance(v, bool) else None


def field_int(value: Any, path: str) -> int | None:
    """The integer at `path`, or None when it is missing or not an integer.

    Booleans are not integers here, and neither is `3.0`.
    """
    v = field(value, path)
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def field_float(value: Any, path: str) -> float | None:
    """The number at `path` as a float, or None when it is missing or not a number."""
    v = field(value, path)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    return None


def field_list(value: Any, path: str) -> list[Any] | None:
    """The list at `path`, or None when it is missing or not a list."""
    v = field(value, path)
    return v if isinstance(v, list) else None


def field_dict(value: Any, path: str) -> dict[str, Any] | None:
    """The object at `path`, or None when it is missing or not an object."""
    v = field(value, path)
    return v if isinstance(v, dict) else None


def as_list(value: Any) -> list[Any]:
    """`value` as a list: a list as is, None as [], anything else as [value].

    Policy documents write `"Action": "s3:GetObject"` and
    `"Action": ["s3:GetObject"]` interchangeably; this reads both.
    """
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def json_text(value: Any) -> str:
    """`value` as compact JSON text, as evidence carries it.

    Raises TypeError for values JSON cannot hold (sets, objects, NaN).
    """
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError as e:  # NaN / Infinity
        raise TypeError(f"evidence value is not JSON: {e}") from None
