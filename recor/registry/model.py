"""What goes into and comes out of the registry's write path."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: an undo or a summary imports no GIS library
    import geopandas as gpd
    import pandas as pd
    from shapely.geometry.base import BaseGeometry

__all__ = [
    "BatchInfo",
    "Delivery",
    "EntityCounts",
    "LoadSummary",
    "RegistryVersion",
    "ReplaceScope",
    "SourceFile",
]


@dataclass(frozen=True)
class SourceFile:
    """One delivered file, identified by its content."""

    path: str
    sha256: str
    size: int


@dataclass(frozen=True)
class BatchInfo:
    """Provenance of a load: what was delivered, read how, by whom."""

    source_files: tuple[SourceFile, ...] = ()
    profile: str = "recor"
    user: str = ""
    note: str = ""
    findings: tuple[dict, ...] = ()
    #: SHA-256 of the files, profile, options and code that produced the load (see
    #: :mod:`recor.ingest.identity`); None when not known (e.g. an API load)
    input_digest: str | None = None


@dataclass(frozen=True)
class Delivery:
    """Validated data ready for the registry (EPSG:2154, registry vocabulary).

    ``sites`` and ``segments`` follow :data:`recor.domain.SITE_COLUMNS` and
    :data:`recor.domain.SEGMENT_COLUMNS`. ``risk_groups``/``segment_risk_groups`` are None
    when the delivery says nothing about shared risks (the registry's links are then left as
    they are); a DataFrame, even empty, replaces the links of the delivered segments.
    """

    sites: gpd.GeoDataFrame
    segments: gpd.GeoDataFrame
    risk_groups: pd.DataFrame | None = None
    segment_risk_groups: pd.DataFrame | None = None
    #: GraceTHD tables as delivered (name → frame), kept with the batch (migration 0006).
    gracethd_tables: Mapping[str, pd.DataFrame] | None = None


@dataclass(frozen=True)
class ReplaceScope:
    """Which registry rows missing from a delivery get retired.

    A row is in scope when it matches every criterion given: its ``source`` is ``source``,
    its geometry intersects ``area`` (EPSG:2154), its code starts with ``code_prefix``.
    With no criterion at all, nothing is retired.
    """

    source: str | None = None
    area: BaseGeometry | None = None
    code_prefix: str | None = None

    def is_empty(self) -> bool:
        """True when no criterion is set."""
        return self.source is None and self.area is None and self.code_prefix is None


@dataclass
class EntityCounts:
    """What a load did to one kind of row, with the codes concerned."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: int = 0
    retired: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        """Counts only."""
        return {
            "added": len(self.added),
            "changed": len(self.changed),
            "unchanged": self.unchanged,
            "retired": len(self.retired),
        }


@dataclass
class LoadSummary:
    """Outcome of a load or an undo. ``batch_id`` is None for a dry run."""

    batch_id: int | None
    dry_run: bool
    sites: EntityCounts = field(default_factory=EntityCounts)
    segments: EntityCounts = field(default_factory=EntityCounts)
    risk_groups: EntityCounts = field(default_factory=EntityCounts)
    links: EntityCounts = field(default_factory=EntityCounts)
    #: set when the connection dropped at commit and the server confirmed the commit
    commit_note: str = ""
    gracethd_tables: EntityCounts = field(default_factory=EntityCounts)

    def entities(self) -> dict[str, EntityCounts]:
        """The counts of each entity, by the name printed and stored with the batch."""
        return {
            "sites": self.sites,
            "segments": self.segments,
            "risk_groups": self.risk_groups,
            "risk_links": self.links,
            "gracethd_tables": self.gracethd_tables,
        }

    def changes_anything(self) -> bool:
        """True when some row was added, changed or retired."""
        return any(c.added or c.changed or c.retired for c in self.entities().values())

    def counts(self) -> dict[str, dict[str, int]]:
        """Counts per entity, for printing and JSON."""
        return {name: counts.as_dict() for name, counts in self.entities().items()}


@dataclass(frozen=True)
class NewestBatch:
    """The registry's newest batch, as a re-import compares itself with it."""

    id: int
    outcome: str
    input_digest: str | None
    counts: dict[str, dict[str, int]]
    profile: str
    user: str
    finished_at: datetime | None
    #: recorded by the database login now connected (only then is its digest trusted)
    same_login: bool = False


@dataclass(frozen=True)
class RegistryVersion:
    """The data version a result was computed on: last batch and its time."""

    batch_id: int | None
    loaded_at: datetime | None
    as_of: datetime | None = None

    def label(self) -> str:
        """Human-readable, e.g. ``batch 12 (2026-11-28 14:03 UTC)``."""
        if self.batch_id is None:
            base = "empty registry"
        else:
            stamp = self.loaded_at.strftime("%Y-%m-%d %H:%M UTC") if self.loaded_at else "?"
            base = f"batch {self.batch_id} ({stamp})"
        if self.as_of is not None:
            base += f", as of {self.as_of.isoformat()}"
        return base
