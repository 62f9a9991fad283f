"""Settings, in one place: a frozen dataclass loaded once and passed down.

Every tolerance, optical default and band distance lives here, overridable from the
environment (``RECOR_*`` variables) and, for some, from CLI flags. Each capability owns one
section; add a field to your section rather than a constant in an algorithm.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from typing import Any

from recor.errors import ConfigurationError

__all__ = [
    "REGION_EXTENT",
    "STORAGE_CRS",
    "DatabaseSettings",
    "ImportSettings",
    "MapSettings",
    "NetworkSettings",
    "Settings",
]

#: The one storage CRS: Lambert-93.
STORAGE_CRS = 2154

#: Plausible extent of Centre-Val de Loire in Lambert-93 (xmin, ymin, xmax, ymax), with a
#: margin of about 30 km: anything outside is a wrong CRS, swapped axes or degrees-as-metres.
REGION_EXTENT: tuple[float, float, float, float] = (440_000.0, 6_560_000.0, 760_000.0, 6_900_000.0)


@dataclass(frozen=True)
class DatabaseSettings:
    """How to reach the registry. ``url`` is a libpq URI or conninfo string."""

    url: str = ""

    def conninfo(self) -> str:
        """The conninfo to hand to psycopg: the URL, else libpq's environment, db ``recor``."""
        if self.url:
            return self.url
        if os.environ.get("PGDATABASE") or os.environ.get("PGSERVICE"):
            return ""
        return "dbname=recor"


@dataclass(frozen=True)
class ImportSettings:
    """Tolerances and limits of survey imports."""

    snap_tolerance_m: float = 1.0
    region_extent: tuple[float, float, float, float] = REGION_EXTENT
    #: declared length vs measured length: relative disagreement above this is reported
    length_mismatch_ratio: float = 0.2
    #: ... and only when the absolute difference also exceeds this many metres
    length_mismatch_min_m: float = 20.0
    max_text_length: int = 10_000
    chunk_size: int = 100_000
    #: a zip whose members would unpack to more than this is refused before extraction
    max_unzipped_mb: int = 8_192
    #: how long an import or an undo waits for another writer's lock before giving up (s)
    lock_timeout_s: float = 300.0
    #: ... and one unpacking to more than 64 MB and this many times its own size (zip bomb)
    max_zip_ratio: float = 100.0
    max_zip_members: int = 10_000
    #: a delivered (or extracted) file larger than this is refused unread
    max_file_mb: int = 8_192
    #: JSON (GeoJSON, ``extra`` cells) nested deeper than this is refused before parsing
    max_json_depth: int = 64
    #: profiles: YAML size, and values once anchors/aliases are expanded ("billion laughs")
    max_profile_kb: int = 1_024
    max_profile_nodes: int = 100_000
    #: the reading stage (extraction, checks of raw files, reading) gives up after this
    max_read_seconds: float = 3_600.0


@dataclass(frozen=True)
class NetworkSettings:
    """Defaults of routing and optical budgets."""

    attenuation_db_per_km_1310: float = 0.35
    attenuation_db_per_km_1550: float = 0.25
    splice_loss_db: float = 0.1
    connector_loss_db: float = 0.5
    margin_db: float = 3.0
    #: site kinds that form the core a site must reach (redundancy, what-if)
    core_kinds: tuple[str, ...] = ("datacentre",)
    #: what-if: core sites of these kinds that lose every path to the other ones are
    #: reported first (besides the core set itself)
    hosting_kinds: tuple[str, ...] = ("datacentre", "chaton")
    #: site kinds that serve nobody by themselves (ranking of single-homed sites)
    passive_kinds: tuple[str, ...] = ("chamber", "junction")
    #: k of ``recor route --k`` when not given
    k_paths: int = 3
    #: shared-risk diverse pair: how many first-path candidates to try before giving up
    diverse_max_candidates: int = 200
    #: shared-risk diverse pair: time budget of that search (seconds)
    diverse_time_budget_s: float = 20.0
    #: worst-disk search: cells smaller than this are not split further (metres)
    disk_tolerance_m: float = 50.0
    #: worst-disk search: budget of exact failure evaluations
    disk_max_evaluations: int = 20_000


@dataclass(frozen=True)
class MapSettings:
    """Defaults of coverage analysis and maps."""

    distance_bands_km: tuple[float, ...] = (1.0, 5.0, 10.0)
    grid_cell_m: float = 2000.0
    #: site kinds that count as a point of presence for coverage distances
    presence_kinds: tuple[str, ...] = ("pop", "datacentre")
    #: simplification of drawn geometries (metres; about what the deepest zoom shows)
    simplify_m: float = 1.0
    #: simplification of administrative boundaries drawn as background (metres)
    boundary_simplify_m: float = 50.0
    max_zoom: int = 18
    #: layers larger than this are drawn in bulk: their points are counted per grid cell
    #: below ``detail_min_zoom``, their lines thinned to what a pixel shows
    overview_max_points: int = 1000
    #: polygon layers larger than this (coverage units) are drawn in bulk too; the
    #: administrative background always is
    overview_max_polygons: int = 1000
    detail_min_zoom: int = 13
    #: fibre-count breaks of the line-width classes, and the widths (unknown first)
    capacity_breaks: tuple[float, ...] = (24.0, 72.0, 144.0)
    capacity_widths: tuple[float, ...] = (1.5, 1.5, 2.5, 3.5, 5.0)
    #: --public: CHATON nodes are moved to the centre of a grid cell of this size (metres)
    #: and the segments reaching them stop at the cell's edge
    public_coarsen_m: float = 2000.0
    #: where `recor map` and the recipes of maps/ write (env RECOR_MAPS_OUT_DIR)
    out_dir: str = "maps/out"


@dataclass(frozen=True)
class Settings:
    """All settings. Build with :meth:`from_env`; derive variants with :meth:`with_`."""

    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    imports: ImportSettings = field(default_factory=ImportSettings)
    network: NetworkSettings = field(default_factory=NetworkSettings)
    maps: MapSettings = field(default_factory=MapSettings)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Read ``RECOR_DATABASE_URL`` and ``RECOR_<SECTION>_<FIELD>`` overrides.

        For example ``RECOR_IMPORTS_SNAP_TOLERANCE_M=0.5`` or
        ``RECOR_MAPS_DISTANCE_BANDS_KM=1,3,10``.
        """
        env = os.environ if environ is None else environ
        sections: dict[str, Any] = {}
        for section in fields(cls):
            current = section.default_factory()  # type: ignore[misc]
            overrides = {}
            for item in fields(current):
                key = f"RECOR_{section.name}_{item.name}".upper()
                if key in env:
                    overrides[item.name] = _parse(key, env[key], getattr(current, item.name))
            sections[section.name] = replace(current, **overrides)
        if env.get("RECOR_DATABASE_URL"):
            sections["database"] = DatabaseSettings(url=env["RECOR_DATABASE_URL"])
        return cls(**sections)

    def with_(self, section: str, **changes: Any) -> Settings:
        """A copy with some fields of one section changed (settings are never mutated)."""
        return replace(self, **{section: replace(getattr(self, section), **changes)})


def _parse(key: str, raw: str, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            return raw.strip().lower() in {"1", "true", "yes", "on"}
        if isinstance(default, tuple):
            kind = type(default[0]) if default else str
            return tuple(kind(part.strip()) for part in raw.split(",") if part.strip())
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{key}={raw!r}: expected a value like {default!r}") from exc
    return raw
