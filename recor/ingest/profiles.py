"""Mapping profiles: which source field feeds which registry field, value maps, defaults.

A profile is a YAML file (format in ``docs/import.md``); ``recor`` (the project's own survey
format) and ``gracethd-v2`` are built in (``recor/ingest/profiles/*.yaml``). A user profile is
given by path. Profiles are validated when loaded, so a typo fails before any file is read.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from recor.domain import RISK_GROUP_COLUMNS, SEGMENT_COLUMNS, SEGMENT_RISK_COLUMNS, SITE_COLUMNS
from recor.errors import ConfigurationError
from recor.ingest.limits import load_yaml

__all__ = [
    "ENTITIES",
    "FieldRule",
    "LayerRule",
    "Profile",
    "builtin_profiles",
    "load_profile",
]

#: What a layer can hold, in the registry's words.
ENTITIES = ("sites", "segments", "risk_groups", "segment_risk_groups")

#: Registry fields a profile may fill, per entity (``declared_length`` is compared with the
#: measured length, then kept in ``extra``).
TARGETS: dict[str, frozenset[str]] = {
    "sites": frozenset(SITE_COLUMNS),
    "segments": frozenset({*SEGMENT_COLUMNS, "declared_length"}),
    "risk_groups": frozenset(RISK_GROUP_COLUMNS),
    "segment_risk_groups": frozenset(SEGMENT_RISK_COLUMNS),
}
_GEOMETRIES = {"point", "line", "none"}


@dataclass(frozen=True)
class FieldRule:
    """How one registry field is filled."""

    target: str
    sources: tuple[str, ...] = ()
    values: dict[str, Any] = field(default_factory=dict)
    default: Any = None
    required: bool = False


@dataclass(frozen=True)
class LayerRule:
    """Which layers hold one entity, and how their fields map."""

    entity: str
    match: tuple[str, ...]
    geometry: str
    fields: tuple[FieldRule, ...]

    def matches(self, layer_name: str) -> bool:
        """True when ``layer_name`` (lower case, no suffix) is one of this entity's layers."""
        return any(fnmatch.fnmatch(layer_name, pattern) for pattern in self.match)

    def field(self, target: str) -> FieldRule | None:
        """The rule filling ``target``, if any."""
        return next((f for f in self.fields if f.target == target), None)


@dataclass(frozen=True)
class Profile:
    """A mapping profile. ``format`` is ``generic`` or ``gracethd-v2``."""

    name: str
    format: str = "generic"
    description: str = ""
    source: str = ""
    layers: tuple[LayerRule, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    origin: str = ""

    def layer_for(self, layer_name: str, geometry: str) -> LayerRule | None:
        """The entity rule for a layer: by name first, else by geometry kind."""
        for rule in self.layers:
            if rule.matches(layer_name):
                return rule
        candidates = [r for r in self.layers if r.geometry == geometry and geometry != "none"]
        return candidates[0] if len(candidates) == 1 else None


def builtin_profiles() -> list[str]:
    """Names of the built-in profiles."""
    folder = resources.files("recor.ingest") / "profiles"
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


def load_profile(name_or_path: str | Path) -> Profile:
    """A built-in profile by name, or a profile file by path.

    Raises
    ------
    ConfigurationError
        When the profile does not exist or is malformed (the message says where).
    """
    text: str
    origin = str(name_or_path)
    if str(name_or_path) in builtin_profiles():
        resource = resources.files("recor.ingest") / "profiles" / f"{name_or_path}.yaml"
        text = resource.read_text(encoding="utf-8")
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise ConfigurationError(
                f"profile {name_or_path!r}: neither a built-in profile "
                f"({', '.join(builtin_profiles())}) nor a file"
            )
        with path.open("rb") as handle:  # bounded: load_yaml refuses more than 1 MiB
            text = handle.read((1 << 20) + 1).decode("utf-8", errors="replace")
    data = load_yaml(text, f"profile {origin}")
    try:
        return _parse_profile(data, origin)
    except (AttributeError, TypeError, ValueError) as exc:
        # a value of the wrong shape (a list where a mapping is expected, a number for a name)
        raise ConfigurationError(f"profile {origin}: malformed ({exc})") from None


def _parse_profile(data: Any, origin: str) -> Profile:
    if not isinstance(data, dict) or "name" not in data:
        raise ConfigurationError(f"profile {origin}: expected a mapping with a 'name'")
    fmt = data.get("format", "generic")
    if fmt not in {"generic", "gracethd-v2"}:
        raise ConfigurationError(
            f"profile {origin}: format {fmt!r} (expected generic, gracethd-v2)"
        )
    layers = []
    for entity, spec in (data.get("layers") or {}).items():
        layers.append(_parse_layer(entity, spec, origin))
    return Profile(
        name=str(data["name"]),
        format=fmt,
        description=str(data.get("description", "")),
        source=str(data.get("source", "")),
        layers=tuple(layers),
        options=dict(data.get("options") or {}),
        origin=origin,
    )


def _parse_layer(entity: str, spec: Any, origin: str) -> LayerRule:
    where = f"profile {origin}, layers.{entity}"
    if entity not in ENTITIES:
        raise ConfigurationError(f"{where}: unknown entity (expected one of {', '.join(ENTITIES)})")
    if not isinstance(spec, dict):
        raise ConfigurationError(f"{where}: expected a mapping")
    geometry = spec.get("geometry", "none")
    if geometry not in _GEOMETRIES:
        raise ConfigurationError(f"{where}.geometry: {geometry!r} (expected point, line, none)")
    rules = []
    for target, fspec in (spec.get("fields") or {}).items():
        if target not in TARGETS[entity]:
            raise ConfigurationError(
                f"{where}.fields.{target}: not a registry field of {entity} "
                f"(expected one of {', '.join(sorted(TARGETS[entity]))})"
            )
        fspec = fspec or {}
        if not isinstance(fspec, dict):
            raise ConfigurationError(f"{where}.fields.{target}: expected a mapping")
        unknown = set(fspec) - {"from", "values", "default", "required"}
        if unknown:
            raise ConfigurationError(f"{where}.fields.{target}: unknown keys {sorted(unknown)}")
        sources = fspec.get("from", [target])
        sources = [sources] if isinstance(sources, str) else list(sources)
        values = {str(k): v for k, v in (fspec.get("values") or {}).items()}
        rules.append(
            FieldRule(
                target=target,
                sources=tuple(str(s).lower() for s in sources),
                values=values,
                default=fspec.get("default"),
                required=bool(fspec.get("required", False)),
            )
        )
    match = spec.get("match", [entity])
    match = [match] if isinstance(match, str) else list(match)
    return LayerRule(entity, tuple(m.lower() for m in match), geometry, tuple(rules))
