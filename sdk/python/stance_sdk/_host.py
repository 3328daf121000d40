"""The host imports (log, settings, state), behind a small interface.

`wit_world` exists only inside a component build (componentize-py generates
it), so nothing here imports it: `_wit.py` binds the generated modules at
build time (the component has no filesystem to import from at run time), and
unit tests under plain CPython `install()` a fake host instead.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Protocol


class StateError(Exception):
    """The host refused a state write (the plugin's quota would be exceeded)."""


class Host(Protocol):
    """What the SDK needs from the host; the WIT imports in a component."""

    def settings(self) -> str: ...
    def log(self, level: str, message: str) -> None: ...
    def state_get(self, key: str) -> bytes | None: ...
    def state_set(self, key: str, value: bytes) -> None: ...
    def state_delete(self, key: str) -> None: ...
    def state_keys(self, prefix: str) -> list[str]: ...


class WitHost:
    """The real host: the component's `host` import, and `state` in the detector world."""

    def __init__(self, host: ModuleType, state: ModuleType | None, err: type[Any]) -> None:
        self._host = host
        self._state_module = state
        self._err = err

    def settings(self) -> str:
        return self._host.settings()  # type: ignore[no-any-return]

    def log(self, level: str, message: str) -> None:
        self._host.log(self._host.Level[level.upper()], message)

    def _state(self) -> ModuleType:
        if self._state_module is None:
            raise RuntimeError(
                "the state store belongs to the detector world; this component was built "
                "for the policy world"
            )
        return self._state_module

    def state_get(self, key: str) -> bytes | None:
        return self._state().get(key)  # type: ignore[no-any-return]

    def state_set(self, key: str, value: bytes) -> None:
        try:
            self._state().set(key, value)
        except self._err as e:
            raise StateError(f"state {key}: {e.value}") from None

    def state_delete(self, key: str) -> None:
        self._state().delete(key)

    def state_keys(self, prefix: str) -> list[str]:
        return list(self._state().keys(prefix))


_current: Host | None = None


def current() -> Host:
    """The host in use: the component's imports once `export()` bound them, or a test's fake."""
    if _current is None:
        raise RuntimeError(
            "no Stance host: call policy.export() / detector.export() at module level of the "
            "entry module (componentize-py), or stance_sdk._host.install(fake) in tests"
        )
    return _current


def install(host: Host | None) -> None:
    """Use `host` for log, settings and state; None removes it."""
    global _current
    _current = host
