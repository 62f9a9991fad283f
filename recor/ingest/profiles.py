"""Mapping profiles: which layers hold which entity, and how source fields become registry fields.

A profile is a YAML file (language in ``docs/import.md``); ``recor`` (the project's own survey
format) and ``gracethd-v2`` are built in (``recor/ingest/profiles/*.yaml``). A user profile is
given by path and may ``extends:`` another. Profiles are validated when loaded, so a typo fails
before any file is read.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pyproj import CRS
from pyproj.exceptions import CRSError

from recor.domain import RISK_GROUP_COLUMNS, SEGMENT_COLUMNS, SEGMENT_RISK_COLUMNS, SITE_COLUMNS
from recor.errors import ConfigurationError
from recor.ingest.limits import load_yaml

__all__ = [
    "CODE_FIELDS",
    "ENTITIES",
    "FieldRule",
    "LayerRule",
    "Profile",
    "RowFilter",
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
#: Fields holding codes: the profile's ``code_prefix`` is put in front of their values.
CODE_FIELDS = frozenset({"code", "site_a", "site_b", "segment_code", "risk_group_code"})
#: A field written ``extra.KEY`` fills one key of the ``extra`` attributes.
EXTRA_PREFIX = "extra."
_GEOMETRIES = {"point", "line", "none"}
_UNMATCHED = {"report", "by_geometry"}
_FIELD_KEYS = {"from", "values", "default", "required", "prefix", "optional"}
_LAYER_KEYS = {"entity", "match", "geometry", "fields", "where", "csv_geometry", "crs"}
_CONDITIONS = {"in", "not_in", "equals", "not_equals", "empty"}
_PROFILE_KEYS = {
    "name", "format", "description", "source", "layers", "options", "extends", "code_prefix",
    "unmatched_layers", "ignore_layers",
}  # fmt: skip


@dataclass(frozen=True)
class FieldRule:
    """How one registry field (or ``extra.KEY``) is filled."""

    target: str
    sources: tuple[str, ...] = ()
    values: dict[str, Any] = field(default_factory=dict)
    default: Any = None
    required: bool = False
    #: put in front of every non-empty value (codes only; None: the profile's ``code_prefix``)
    prefix: str | None = None
    #: True when the profile names the source columns itself (``from:``)
    explicit: bool = False
    #: True when the source columns may be absent without a warning (the field stays unknown)
    optional: bool = False


@dataclass(frozen=True)
class RowFilter:
    """One condition of a layer's ``where:``; values compare trimmed and case-insensitive."""

    column: str
    include: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    empty: bool | None = None

    def describe(self) -> str:
        """The condition in words, for findings."""
        parts = []
        if self.include is not None:
            parts.append(f"{self.column} ∈ {{{', '.join(self.include)}}}")
        if self.exclude:
            parts.append(f"{self.column} ∉ {{{', '.join(self.exclude)}}}")
        if self.empty is not None:
            parts.append(f"{self.column} {'vide' if self.empty else 'renseigné'}")
        return " et ".join(parts)


@dataclass(frozen=True)
class LayerRule:
    """Which layers hold one entity, and how their fields map.

    A profile may have several rules for one entity (e.g. sites from a ``nro`` layer and from
    a ``chambres`` layer, each with its own fields); ``name`` is the rule's key in the YAML.
    """

    entity: str
    match: tuple[str, ...]
    geometry: str
    fields: tuple[FieldRule, ...]
    name: str = ""
    where: tuple[RowFilter, ...] = ()
    #: CSV geometry columns: ``("wkt", COLUMN)`` or ``("xy", X, Y)``; None: detected by name
    csv_geometry: tuple[str, ...] | None = None
    #: CRS of the layer's coordinates when the file declares none (e.g. a CSV), like ``--crs``
    crs: str | None = None

    def matches(self, layer_name: str) -> bool:
        """True when ``layer_name`` (lower case, no suffix) is one of this rule's layers."""
        return any(fnmatch.fnmatch(layer_name, pattern) for pattern in self.match)

    def field(self, target: str) -> FieldRule | None:
        """The rule filling ``target``, if any."""
        return next((f for f in self.fields if f.target == target), None)

    def extra_fields(self) -> tuple[FieldRule, ...]:
        """The rules filling ``extra.KEY`` (target without the ``extra.`` prefix)."""
        return tuple(f for f in self.fields if f.target.startswith(EXTRA_PREFIX))

    @property
    def label(self) -> str:
        """How findings name this rule: ``layers.NAME`` (entity)."""
        return f"layers.{self.name or self.entity}"


@dataclass(frozen=True)
class Profile:
    """A mapping profile. ``format`` is ``generic`` or ``gracethd-v2``.

    ``unmatched_layers`` says what becomes of a layer no rule names: ``report`` (default:
    a ``SRC-LAYER-IGNORED`` warning, nothing imported) or ``by_geometry`` (taken by the only
    rule of its geometry kind, the behaviour of recor before profiles listed layers).
    ``ignore_layers`` are layers the profile knows and leaves out on purpose (an information,
    not a warning). ``code_prefix`` namespaces every delivered code.
    """

    name: str
    format: str = "generic"
    description: str = ""
    source: str = ""
    layers: tuple[LayerRule, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    origin: str = ""
    code_prefix: str = ""
    unmatched_layers: str = "report"
    ignore_layers: tuple[str, ...] = ()

    def layer_for(self, layer_name: str, geometry: str) -> LayerRule | None:
        """The rule for a layer: the first whose ``match`` names it, else (only with
        ``unmatched_layers: by_geometry``) the only rule of that geometry kind."""
        for rule in self.layers:
            if rule.matches(layer_name):
                return rule
        if self.unmatched_layers != "by_geometry" or self.ignores(layer_name):
            return None
        candidates = [r for r in self.layers if r.geometry == geometry and geometry != "none"]
        return candidates[0] if len(candidates) == 1 else None

    def ignores(self, layer_name: str) -> bool:
        """True when the profile leaves this layer out on purpose (``ignore_layers``)."""
        return any(fnmatch.fnmatch(layer_name, pattern) for pattern in self.ignore_layers)

    def prefix_for(self, rule: FieldRule) -> str:
        """The prefix put in front of the values of a code field."""
        if rule.target not in CODE_FIELDS:
            return ""
        return self.code_prefix if rule.prefix is None else rule.prefix


def builtin_profiles() -> list[str]:
    """Names of the built-in profiles."""
    folder = resources.files("recor.ingest") / "profiles"
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


def load_profile(name_or_path: str | Path, *, _seen: tuple[str, ...] = ()) -> Profile:
    """A built-in profile by name, or a profile file by path.

    Raises
    ------
    ConfigurationError
        When the profile does not exist or is malformed (the message says where).
    """
    origin = str(name_or_path)
    if origin in _seen:
        raise ConfigurationError(f"profile {origin}: extends itself ({' → '.join(_seen)})")
    data = _read_yaml(name_or_path)
    if isinstance(data, dict) and "extends" in data:
        base_name = str(data["extends"])
        if str(name_or_path) not in builtin_profiles() and not Path(base_name).is_absolute():
            sibling = Path(name_or_path).parent / base_name
            base_name = str(sibling) if sibling.is_file() else base_name
        base = load_profile(base_name, _seen=(*_seen, origin))
        return _parsed(data, origin, base)
    return _parsed(data, origin, None)


def _parsed(data: Any, origin: str, base: Profile | None) -> Profile:
    try:
        return _parse_profile(data, origin, base)
    except (AttributeError, TypeError, ValueError) as exc:
        # a value of the wrong shape (a list where a mapping is expected, a number for a name)
        raise ConfigurationError(f"profile {origin}: malformed ({exc})") from None


def _read_yaml(name_or_path: str | Path) -> Any:
    origin = str(name_or_path)
    if origin in builtin_profiles():
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
    return load_yaml(text, f"profile {origin}")


def _parse_profile(data: Any, origin: str, base: Profile | None) -> Profile:
    if not isinstance(data, dict) or "name" not in data:
        raise ConfigurationError(f"profile {origin}: expected a mapping with a 'name'")
    unknown = set(data) - _PROFILE_KEYS
    if unknown:
        raise ConfigurationError(
            f"profile {origin}: unknown keys {sorted(unknown)} "
            f"(expected some of {', '.join(sorted(_PROFILE_KEYS))})"
        )
    inherited = base or Profile(name="")
    fmt = data.get("format", inherited.format)
    if fmt not in {"generic", "gracethd-v2"}:
        raise ConfigurationError(
            f"profile {origin}: format {fmt!r} (expected generic, gracethd-v2)"
        )
    unmatched = data.get("unmatched_layers", inherited.unmatched_layers)
    if unmatched not in _UNMATCHED:
        raise ConfigurationError(
            f"profile {origin}: unmatched_layers {unmatched!r} (expected report, by_geometry)"
        )
    layers = inherited.layers
    if "layers" in data:
        layers = _parse_layers(data.get("layers"), origin)
    options = {**inherited.options, **dict(data.get("options") or {})}
    return Profile(
        name=str(data["name"]),
        format=fmt,
        description=str(data.get("description", inherited.description)),
        source=str(data.get("source", inherited.source)),
        layers=layers,
        options=options,
        origin=origin,
        code_prefix=str(data.get("code_prefix", inherited.code_prefix) or ""),
        unmatched_layers=unmatched,
        ignore_layers=_patterns(data.get("ignore_layers"), inherited.ignore_layers),
    )


def _patterns(value: Any, default: tuple[str, ...]) -> tuple[str, ...]:
    if value is None:
        return default
    items = [value] if isinstance(value, str) else list(value)
    return tuple(str(v).lower() for v in items)


def _parse_layers(spec: Any, origin: str) -> tuple[LayerRule, ...]:
    if spec is None:
        return ()
    if isinstance(spec, list):
        named = [(str(item.get("name", "")) if isinstance(item, dict) else "", item)
                 for item in spec]  # fmt: skip
    elif isinstance(spec, dict):
        named = list(spec.items())
    else:
        raise ConfigurationError(f"profile {origin}, layers: expected a mapping or a list")
    return tuple(_parse_layer(str(name), item, origin) for name, item in named)


def _parse_layer(name: str, spec: Any, origin: str) -> LayerRule:
    where = f"profile {origin}, layers.{name}"
    if not isinstance(spec, dict):
        raise ConfigurationError(f"{where}: expected a mapping")
    entity = str(spec.get("entity", name))
    if entity not in ENTITIES:
        raise ConfigurationError(
            f"{where}: unknown entity {entity!r} (expected one of {', '.join(ENTITIES)}; "
            "a rule named otherwise says `entity: ...`)"
        )
    unknown = set(spec) - _LAYER_KEYS - {"name"}
    if unknown:
        raise ConfigurationError(f"{where}: unknown keys {sorted(unknown)}")
    geometry = spec.get("geometry", "none")
    if geometry not in _GEOMETRIES:
        raise ConfigurationError(f"{where}.geometry: {geometry!r} (expected point, line, none)")
    rules = tuple(
        _parse_field(entity, str(target), fspec, f"{where}.fields.{target}")
        for target, fspec in (spec.get("fields") or {}).items()
    )
    match = spec.get("match", [name])
    match = [match] if isinstance(match, str) else list(match)
    crs = spec.get("crs")
    if crs is not None:
        try:
            CRS.from_user_input(int(crs) if str(crs).strip().isdigit() else str(crs))
        except CRSError as exc:
            raise ConfigurationError(
                f"{where}.crs: {crs!r} is no CRS (e.g. 2154, EPSG:4326)"
            ) from exc
    return LayerRule(
        entity,
        tuple(str(m).lower() for m in match),
        geometry,
        rules,
        name=name,
        where=_parse_where(spec.get("where"), f"{where}.where"),
        csv_geometry=_parse_csv_geometry(spec.get("csv_geometry"), f"{where}.csv_geometry"),
        crs=None if crs is None else str(crs),
    )


def _parse_field(entity: str, target: str, fspec: Any, where: str) -> FieldRule:
    is_extra = target.startswith(EXTRA_PREFIX) and len(target) > len(EXTRA_PREFIX)
    if not is_extra and target not in TARGETS[entity]:
        raise ConfigurationError(
            f"{where}: not a registry field of {entity} "
            f"(expected one of {', '.join(sorted(TARGETS[entity]))}, or extra.KEY)"
        )
    if isinstance(fspec, str):
        fspec = {"from": [fspec]}
    fspec = fspec or {}
    if not isinstance(fspec, dict):
        raise ConfigurationError(f"{where}: expected a mapping (or a source column name)")
    unknown = set(fspec) - _FIELD_KEYS
    if unknown:
        raise ConfigurationError(f"{where}: unknown keys {sorted(unknown)}")
    if "prefix" in fspec and target not in CODE_FIELDS:
        raise ConfigurationError(
            f"{where}.prefix: only code fields take a prefix ({', '.join(sorted(CODE_FIELDS))})"
        )
    default_source = target.removeprefix(EXTRA_PREFIX) if is_extra else target
    sources = fspec.get("from", [default_source])
    sources = [sources] if isinstance(sources, str) else list(sources)
    values = fspec.get("values") or {}
    if not isinstance(values, dict):
        raise ConfigurationError(f"{where}.values: expected a mapping SOURCE: REGISTRY")
    return FieldRule(
        target=target,
        sources=tuple(str(s).lower() for s in sources),
        values={str(k): v for k, v in values.items()},
        default=fspec.get("default"),
        required=bool(fspec.get("required", False)),
        prefix=None if fspec.get("prefix") is None else str(fspec["prefix"]),
        explicit="from" in fspec,
        optional=bool(fspec.get("optional", False)),
    )


def _texts(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    return tuple(str(v).strip().lower() for v in items)


def _parse_where(spec: Any, where: str) -> tuple[RowFilter, ...]:
    if spec is None:
        return ()
    if not isinstance(spec, dict):
        raise ConfigurationError(f"{where}: expected a mapping COLUMN: CONDITION")
    filters = []
    for column, condition in spec.items():
        if isinstance(condition, dict):
            unknown = set(condition) - _CONDITIONS
            if unknown or not condition:
                raise ConfigurationError(
                    f"{where}.{column}: unknown conditions {sorted(unknown)} "
                    f"(expected {', '.join(sorted(_CONDITIONS))})"
                )
            include = None
            if "in" in condition or "equals" in condition:
                include = _texts(condition.get("in", condition.get("equals")))
            exclude = _texts(condition.get("not_in", condition.get("not_equals", [])))
            empty = None if condition.get("empty") is None else bool(condition["empty"])
            filters.append(RowFilter(str(column).lower(), include, exclude, empty))
        else:
            filters.append(RowFilter(str(column).lower(), include=_texts(condition)))
    return tuple(filters)


def _parse_csv_geometry(spec: Any, where: str) -> tuple[str, ...] | None:
    if spec is None:
        return None
    if isinstance(spec, dict) and set(spec) == {"wkt"}:
        return ("wkt", str(spec["wkt"]))
    if isinstance(spec, dict) and set(spec) == {"x", "y"}:
        return ("xy", str(spec["x"]), str(spec["y"]))
    raise ConfigurationError(f"{where}: expected {{wkt: COLUMN}} or {{x: COLUMN, y: COLUMN}}")
