"""What policies and detectors share: name, version, declared settings,
the rule registry, and settings loaded from the host and checked at
`describe` and at the start of every batch.
"""

from __future__ import annotations

import traceback
from typing import Any, Callable, Generic, Sequence, TypeVar

from . import _host
from .info import KINDS, Compliance, PluginInfo, Remediation, RuleSpec, SettingSpec, compliance_of, remediation_of
from .model import PluginError, Severity
from .settings import Settings, SettingsError, parse

F = TypeVar("F", bound=Callable[..., Any])
SettingsCheck = Callable[[Settings], None]


class Registered(Generic[F]):
    """A rule's declaration and the function that implements it."""

    def __init__(self, spec: RuleSpec, fn: F) -> None:
        self.spec = spec
        self.fn = fn


class PluginBase(Generic[F]):
    """Name, version, settings and rules; `Policy` and `Detector` add evaluation."""

    def __init__(self, name: str, version: str, description: str = "") -> None:
        self.name = name
        self.version = version
        self.description = description
        self.rules: list[Registered[F]] = []
        self._settings_specs: list[SettingSpec] = []
        self._checks: list[SettingsCheck] = []
        self._settings: Settings | None = None

    def setting(
        self,
        name: str,
        kind: str,
        *,
        required: bool = False,
        description: str = "",
        default: Any = None,
    ) -> PluginBase[F]:
        """Declare a setting: `kind` is string, number, boolean, array, object or any.

        `default` is what the typed getters return when the setting is absent.
        """
        if kind not in KINDS:
            raise ValueError(f"setting {name}: kind {kind!r} is not one of {', '.join(KINDS)}")
        if any(s.name == name for s in self._settings_specs):
            raise ValueError(f"setting {name} is declared twice")
        self._settings_specs.append(SettingSpec(name, kind, required, description, default))
        return self

    def check_settings(self, fn: SettingsCheck) -> SettingsCheck:
        """Decorator: `fn(settings)` raises (any exception) to refuse the settings.

        Runs when settings are loaded, after the kind checks; at `describe` a
        refusal becomes the plugin-error that tells the user what is wrong.
        """
        self._checks.append(fn)
        return fn

    @property
    def settings(self) -> Settings:
        """The checked settings (loaded from the host on first use)."""
        if self._settings is None:
            self._settings = self.load_settings(_host.current().settings())
        return self._settings

    def load_settings(self, text: str) -> Settings:
        """Parse and check settings text; raises SettingsError naming the problem."""
        settings = parse(text, self._settings_specs)
        for check in self._checks:
            try:
                check(settings)
            except SettingsError:
                raise
            except Exception as e:  # a check refuses by raising anything
                raise SettingsError(str(e) or type(e).__name__) from None
        return settings

    def _declare(
        self,
        id: str,
        title: str,
        severity: Severity,
        resource_types: Sequence[str],
        description: str,
        remediation: str | Remediation | None,
        compliance: Sequence[Compliance | tuple[str, str, str]],
        tags: Sequence[str],
        reads: Sequence[str],
    ) -> Callable[[F], F]:
        if not id.strip():
            raise ValueError("a rule id must not be empty")
        if any(r.spec.id == id for r in self.rules):
            raise ValueError(f"rule {id} is declared twice")
        if isinstance(resource_types, str):
            raise TypeError(f"rule {id}: resource_types must be a list, not a string")
        if not resource_types:
            raise ValueError(f"rule {id} lists no resource types")
        if not isinstance(severity, Severity):
            raise TypeError(f"rule {id}: severity must be a stance_sdk.Severity")
        spec = RuleSpec(
            id=id,
            title=title,
            severity=severity,
            resource_types=list(resource_types),
            description=description,
            remediation=remediation_of(remediation),
            compliance=compliance_of(compliance),
            tags=list(tags),
            reads=list(reads),
        )

        def register(fn: F) -> F:
            self.rules.append(Registered(spec, fn))
            return fn

        return register

    def info(self) -> PluginInfo:
        """The plugin's declaration, as `describe` returns it (without settings checks)."""
        return PluginInfo(
            self.name,
            self.version,
            self.description,
            [r.spec for r in self.rules],
            list(self._settings_specs),
        )

    def describe(self) -> PluginInfo:
        """Check the settings, then declare the plugin. Settings problems become PluginError."""
        try:
            self._settings = self.load_settings(_host.current().settings())
        except SettingsError as e:
            raise PluginError(f"invalid settings: {e}") from None
        return self.info()

    def _begin_batch(self) -> None:
        """Load settings for a batch; a problem fails the batch with a PluginError."""
        try:
            self._settings = self.load_settings(_host.current().settings())
        except SettingsError as e:
            raise PluginError(f"invalid settings: {e}") from None


def describe_exception(e: BaseException) -> str:
    """`ValueError: bad thing (app.py:42)`: the exception and where it was raised."""
    text = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
    frames = traceback.extract_tb(e.__traceback__)
    if frames:
        last = frames[-1]
        where = last.filename.replace("\\", "/").rsplit("/", 1)[-1]
        text += f" ({where}:{last.lineno})"
    return text
