"""The plugin's settings: the JSON object the host hands over, checked
against the declared settings (name, kind, required) and read with typed
getters that fall back to each setting's declared default.
"""

from __future__ import annotations

import json
from typing import Any, Iterator, Mapping, Sequence

from .info import KINDS, SettingSpec


class SettingsError(ValueError):
    """Settings that do not match what the plugin declares."""


class Settings(Mapping[str, Any]):
    """Checked settings: a read-only mapping plus typed getters.

    A getter returns the configured value, else the declared default, else
    the `default` argument; a configured value of the wrong type raises
    SettingsError (the host checks kinds, so this means a broken check).
    """

    def __init__(self, values: Mapping[str, Any], specs: Sequence[SettingSpec] = ()) -> None:
        self._values = dict(values)
        self._defaults = {s.name: s.default for s in specs if s.default is not None}

    def __getitem__(self, name: str) -> Any:
        if name in self._values:
            return self._values[name]
        return self._defaults[name]

    def __iter__(self) -> Iterator[str]:
        return iter({**self._defaults, **self._values})

    def __len__(self) -> int:
        return len({**self._defaults, **self._values})

    def __repr__(self) -> str:
        return f"Settings({dict(self)!r})"

    def configured(self, name: str) -> bool:
        """Whether `name` was set explicitly (not just defaulted)."""
        return name in self._values

    def get_str(self, name: str, default: str | None = None) -> str | None:
        return self._typed(name, default, str, "a string")

    def get_bool(self, name: str, default: bool | None = None) -> bool | None:
        return self._typed(name, default, bool, "a boolean")

    def get_int(self, name: str, default: int | None = None) -> int | None:
        v = self._typed(name, default, (int, float), "a number")
        if isinstance(v, bool) or (isinstance(v, float) and not v.is_integer()):
            raise SettingsError(f"setting `{name}` must be an integer, not {v!r}")
        return None if v is None else int(v)

    def get_float(self, name: str, default: float | None = None) -> float | None:
        v = self._typed(name, default, (int, float), "a number")
        if isinstance(v, bool):
            raise SettingsError(f"setting `{name}` must be a number, not {v!r}")
        return None if v is None else float(v)

    def get_list(self, name: str, default: list[Any] | None = None) -> list[Any] | None:
        return self._typed(name, default, list, "an array")

    def get_str_list(self, name: str, default: list[str] | None = None) -> list[str] | None:
        """An array whose items must all be strings."""
        v = self.get_list(name, default)
        if v is not None and not all(isinstance(x, str) for x in v):
            raise SettingsError(f"setting `{name}` must be an array of strings")
        return v

    def get_dict(self, name: str, default: dict[str, Any] | None = None) -> dict[str, Any] | None:
        return self._typed(name, default, dict, "an object")

    def _typed(self, name: str, default: Any, types: Any, what: str) -> Any:
        v = self.get(name)
        if v is None:
            return default
        if not isinstance(v, types):
            raise SettingsError(f"setting `{name}` must be {what}, not {json.dumps(v)}")
        return v


def parse(text: str, specs: Sequence[SettingSpec]) -> Settings:
    """Parse the host's settings text and check it against `specs`.

    The same checks the host makes: an object, no unknown keys, every
    required key present, every value of the declared kind.
    """
    try:
        values = json.loads(text) if text.strip() else {}
    except ValueError as e:
        raise SettingsError(f"settings are not JSON: {e}") from None
    if not isinstance(values, dict):
        raise SettingsError("settings must be a JSON object")
    known = {s.name for s in specs}
    for key in values:
        if key not in known:
            if not known:
                raise SettingsError(f"unknown setting `{key}`; the plugin takes no settings")
            raise SettingsError(f"unknown setting `{key}`; it accepts {', '.join(sorted(known))}")
    for s in specs:
        if s.name not in values:
            if s.required:
                raise SettingsError(f"setting `{s.name}` is required: {s.description}")
            continue
        if not kind_matches(s.kind, values[s.name]):
            raise SettingsError(
                f"setting `{s.name}` must be of kind {s.kind}, not {json.dumps(values[s.name])}"
            )
    return Settings(values, specs)


def kind_matches(kind: str, value: Any) -> bool:
    """Whether a JSON value has the declared kind."""
    if kind not in KINDS:
        raise SettingsError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    if kind == "string":
        return isinstance(value, str)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "array":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    return True
