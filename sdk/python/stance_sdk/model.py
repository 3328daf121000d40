"""What plugins read and return: assets, events, findings, alerts.

Plain Python records, independent of the generated bindings; the SDK converts
them to and from the WIT records at the component boundary (`_wit.py`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field as dc_field
from datetime import datetime
from enum import Enum
from typing import Any, Iterable, Mapping, Sequence

from . import fields


class Severity(Enum):
    """How bad a failed rule is, from least to most severe."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4


class Status(Enum):
    """The outcome of one rule on one asset; ERROR means "could not decide"."""

    PASS = 0
    FAIL = 1
    ERROR = 2


class PluginError(Exception):
    """A failure of the whole batch (or of `describe`).

    Raise it from a rule only when nothing in the batch can be judged; the
    host then records every (rule, asset) of the batch as `error`. Any other
    exception in a rule fails just that rule on that asset.
    """

    def __init__(self, message: str, rule_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.rule_id = rule_id


class BodyError(ValueError):
    """An asset or event body that is not a JSON object."""


class _Body:
    """Lazy JSON body with typed path access, shared by Asset and Event."""

    raw_body: str
    _parsed: Any
    _what: str

    @property
    def body(self) -> dict[str, Any]:
        """The body as a dict, parsed on first use. Raises BodyError when it is not a JSON object."""
        if self._parsed is _UNPARSED:
            try:
                value = json.loads(self.raw_body)
            except json.JSONDecodeError as e:
                raise BodyError(f"{self._what}: body is not JSON: {e}") from None
            if not isinstance(value, dict):
                raise BodyError(f"{self._what}: body is a JSON {type(value).__name__}, not an object")
            self._parsed = value
        return self._parsed  # type: ignore[no-any-return]

    def field(self, path: str) -> Any:
        """The body value at `path` (`a.b[0].c`), or None when a step is missing."""
        return fields.field(self.body, path)

    def has_field(self, path: str) -> bool:
        """Whether every step of `path` exists in the body (the value may be null)."""
        return fields.has_field(self.body, path)

    def field_str(self, path: str) -> str | None:
        return fields.field_str(self.body, path)

    def field_bool(self, path: str) -> bool | None:
        return fields.field_bool(self.body, path)

    def field_int(self, path: str) -> int | None:
        return fields.field_int(self.body, path)

    def field_float(self, path: str) -> float | None:
        return fields.field_float(self.body, path)

    def field_list(self, path: str) -> list[Any] | None:
        return fields.field_list(self.body, path)

    def field_dict(self, path: str) -> dict[str, Any] | None:
        return fields.field_dict(self.body, path)


_UNPARSED: Any = object()


class Asset(_Body):
    """One cloud resource: identity, tags and a JSON body (`asset.body`)."""

    def __init__(
        self,
        id: str,
        resource_type: str,
        body: str | Mapping[str, Any],
        *,
        provider: str = "aws",
        account: str = "",
        region: str = "",
        name: str = "",
        tags: Mapping[str, str] | None = None,
        collected_at: str = "",
    ) -> None:
        self.id = id
        self.resource_type = resource_type
        self.provider = provider
        self.account = account
        self.region = region
        self.name = name or id.rsplit("/", 1)[-1].rsplit(":", 1)[-1]
        self.tags: dict[str, str] = dict(tags or {})
        self.collected_at = collected_at
        self._what = f"asset {id}"
        if isinstance(body, str):
            self.raw_body = body
            self._parsed = _UNPARSED
        else:
            self._parsed = dict(body)
            self.raw_body = json.dumps(self._parsed)

    @classmethod
    def from_record(cls, rec: Any) -> Asset:
        """An Asset from a WIT `asset` record (or anything with its attributes)."""
        return cls(
            rec.id,
            rec.resource_type,
            rec.body,
            provider=rec.provider,
            account=rec.account,
            region=rec.region,
            name=rec.name,
            tags={t.key: t.value for t in rec.tags},
            collected_at=rec.collected_at,
        )

    def tag(self, key: str) -> str | None:
        """The value of tag `key` (exact, case-sensitive), or None."""
        return self.tags.get(key)

    def tag_ci(self, key: str) -> str | None:
        """The value of tag `key` matched case-insensitively (`Owner` or `owner`), or None."""
        lowered = key.lower()
        for k, v in self.tags.items():
            if k.lower() == lowered:
                return v
        return None

    def __repr__(self) -> str:
        return f"Asset({self.id!r}, {self.resource_type!r})"


class Event(_Body):
    """One audit-log record: ids, time and the raw record as a JSON body."""

    def __init__(
        self,
        id: str,
        body: str | Mapping[str, Any],
        *,
        source: str = "aws_cloudtrail",
        time: str = "",
        account: str = "",
        region: str = "",
    ) -> None:
        self.id = id
        self.source = source
        self.time = time
        self.account = account
        self.region = region
        self._what = f"event {id}"
        if isinstance(body, str):
            self.raw_body = body
            self._parsed = _UNPARSED
        else:
            self._parsed = dict(body)
            self.raw_body = json.dumps(self._parsed)

    @classmethod
    def from_record(cls, rec: Any) -> Event:
        """An Event from a WIT `event` record (or anything with its attributes)."""
        return cls(
            rec.id,
            rec.body,
            source=rec.source,
            time=rec.time,
            account=rec.account,
            region=rec.region,
        )

    def timestamp(self) -> datetime:
        """The event time as an aware datetime. Raises ValueError when it is not RFC 3339."""
        return parse_time(self.time)

    def __repr__(self) -> str:
        return f"Event({self.id!r}, {self.source!r}, {self.time!r})"


def parse_time(text: str) -> datetime:
    """An RFC 3339 time (`2026-11-20T09:30:00Z`) as an aware datetime."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"time {text!r} has no offset")
    return value


@dataclass
class Evidence:
    """What a rule looked at: a path, its actual value as JSON text, and the condition."""

    path: str
    actual: str
    expected: str

    @classmethod
    def of(cls, path: str, actual: Any, expected: str) -> Evidence:
        """Evidence with `actual` encoded as JSON text (TypeError when it cannot be)."""
        return cls(path, fields.json_text(actual), expected)


@dataclass
class Finding:
    """The verdict of one rule on one asset.

    Build it with `Finding.pass_()`, `Finding.fail(message)` or
    `Finding.error(message)`; the SDK fills in the rule and asset ids.
    """

    status: Status
    message: str = ""
    severity: Severity | None = None
    evidence: list[Evidence] = dc_field(default_factory=list)
    rule_id: str = ""
    asset_id: str = ""

    @classmethod
    def pass_(cls, message: str = "") -> Finding:
        """The rule holds for the asset."""
        return cls(Status.PASS, message)

    @classmethod
    def fail(cls, message: str) -> Finding:
        """The rule does not hold; `message` says why, for a human."""
        return cls(Status.FAIL, message)

    @classmethod
    def error(cls, message: str) -> Finding:
        """The rule could not decide for this asset (missing or malformed data)."""
        return cls(Status.ERROR, message)

    def with_evidence(self, path: str, actual: Any, expected: str) -> Finding:
        """Add evidence: a path, its actual value (any JSON value) and the condition."""
        self.evidence.append(Evidence.of(path, actual, expected))
        return self

    def with_severity(self, severity: Severity) -> Finding:
        """Override the rule's declared severity for this finding."""
        self.severity = severity
        return self


@dataclass
class Alert:
    """What a detector reports: one event, or a window of them.

    Build it with `Alert.on(event, title)` or `Alert.over(events, title)`; the
    SDK fills in the rule id, and the rule's severity unless overridden.
    """

    title: str
    event_ids: list[str]
    window_start: str
    window_end: str
    message: str = ""
    group_key: str | None = None
    severity: Severity | None = None
    evidence: list[Evidence] = dc_field(default_factory=list)
    rule_id: str = ""

    @classmethod
    def on(cls, event: Event, title: str, message: str = "") -> Alert:
        """An alert on one event; the window is the event's time."""
        return cls(title, [event.id], event.time, event.time, message)

    @classmethod
    def over(
        cls, events: Sequence[Event], title: str, message: str = "", group_key: str | None = None
    ) -> Alert:
        """An alert on several events; the window spans their earliest and latest times."""
        if not events:
            raise ValueError("Alert.over needs at least one event")
        ordered = sorted(events, key=lambda e: parse_time(e.time))
        return cls(
            title,
            _unique(e.id for e in events),
            ordered[0].time,
            ordered[-1].time,
            message,
            group_key,
        )

    def with_message(self, message: str) -> Alert:
        self.message = message
        return self

    def with_evidence(self, path: str, actual: Any, expected: str) -> Alert:
        """Add evidence: a path in the event, its actual value and the condition."""
        self.evidence.append(Evidence.of(path, actual, expected))
        return self

    def with_severity(self, severity: Severity) -> Alert:
        """Override the rule's declared severity for this alert."""
        self.severity = severity
        return self

    def with_group_key(self, key: str) -> Alert:
        """What the alert is about (a principal, an IP); repeated alerts group by it."""
        self.group_key = key
        return self

    def with_window(self, start: str, end: str) -> Alert:
        """Set the RFC 3339 bounds of the correlation window explicitly."""
        self.window_start = start
        self.window_end = end
        return self


def _unique(ids: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for i in ids:
        seen.setdefault(i, None)
    return list(seen)
