"""Results of network analyses: plain dataclasses, each carrying its provenance."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import geopandas as gpd
import pandas as pd
from shapely.geometry import LineString, Point

from recor.registry.model import RegistryVersion

__all__ = [
    "DiskFailure",
    "OpticalBudget",
    "Provenance",
    "RedundancyReport",
    "Route",
    "RoutePair",
    "SrlgCut",
    "WhatIfResult",
    "unknown_label",
]


@dataclass(frozen=True)
class Provenance:
    """What a result was computed on (data version), with which parameters, and when."""

    version: RegistryVersion | None
    parameters: dict[str, Any]
    computed_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def label(self) -> str:
        """One line for tables and map captions."""
        data = self.version.label() if self.version is not None else "graph built from frames"
        return f"{data}; computed {self.computed_at:%Y-%m-%d %H:%M:%S} UTC"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        version = self.version
        return {
            "data_version": version.label() if version is not None else None,
            "batch_id": version.batch_id if version is not None else None,
            "as_of": version.as_of.isoformat() if version and version.as_of else None,
            "parameters": {k: _plain(v) for k, v in self.parameters.items()},
            "computed_at": self.computed_at.isoformat(),
        }


@dataclass(frozen=True)
class Route:
    """A path through the network: sites and segments in travel order."""

    sites: tuple[str, ...]
    segments: tuple[str, ...]
    length_m: float
    cost: float
    geometry: LineString | None
    min_free_fibres: int | None
    risk_groups: frozenset[str]
    provenance: Provenance | None = None
    #: segments whose free fibres are unknown (no fibre count or no usage recorded): when
    #: any, ``min_free_fibres`` is None, the bottleneck is unknown
    unknown_free_segments: tuple[str, ...] = ()

    @property
    def joints(self) -> int:
        """Splice points crossed: every intermediate site."""
        return max(len(self.sites) - 2, 0)

    @property
    def source(self) -> str:
        """First site."""
        return self.sites[0]

    @property
    def target(self) -> str:
        """Last site."""
        return self.sites[-1]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (geometry as WKT-free coordinates are left to GeoJSON exports)."""
        return {
            "source": self.source,
            "target": self.target,
            "sites": list(self.sites),
            "segments": list(self.segments),
            "length_m": round(self.length_m, 1),
            "cost": self.cost,
            "joints": self.joints,
            "min_free_fibres": self.min_free_fibres,
            "unknown_free_segments": list(self.unknown_free_segments),
            "risk_groups": sorted(self.risk_groups),
        }

    def free_fibres_label(self) -> str:
        """The bottleneck for people: a number, or "unknown" naming the segments."""
        if self.min_free_fibres is not None:
            return str(self.min_free_fibres)
        if not self.segments:
            return "n/a"
        return unknown_label(self.unknown_free_segments)


@dataclass(frozen=True)
class RoutePair:
    """Two paths between the same sites, as diverse as the network allows.

    ``achieved`` is True when the pair meets the requested ``disjointness``; otherwise
    ``shared_*`` name what the two paths have in common. ``exact`` says whether the pair is
    proven minimal (total length for a disjoint pair; see docs/network.md).
    """

    first: Route
    second: Route | None
    disjointness: str
    achieved: bool
    shared_segments: tuple[str, ...]
    shared_sites: tuple[str, ...]
    shared_risk_groups: tuple[str, ...]
    exact: bool
    method: str
    provenance: Provenance | None = None

    @property
    def total_length_m(self) -> float:
        """Sum of both paths' lengths (the first alone when there is no second)."""
        return self.first.length_m + (self.second.length_m if self.second else 0.0)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "disjointness": self.disjointness,
            "achieved": self.achieved,
            "exact": self.exact,
            "method": self.method,
            "total_length_m": round(self.total_length_m, 1),
            "first": self.first.as_dict(),
            "second": self.second.as_dict() if self.second else None,
            "shared_segments": list(self.shared_segments),
            "shared_sites": list(self.shared_sites),
            "shared_risk_groups": list(self.shared_risk_groups),
            "provenance": self.provenance.as_dict() if self.provenance else None,
        }


@dataclass(frozen=True)
class OpticalBudget:
    """Loss of a path and, given a transceiver budget, pass or fail."""

    wavelength_nm: int
    length_km: float
    attenuation_db_per_km: float
    fibre_loss_db: float
    joints: int
    splice_loss_db: float
    connector_loss_db: float
    margin_db: float
    total_loss_db: float
    budget_db: float | None
    headroom_db: float | None
    passes: bool | None
    #: what the figures assume where the registry does not know (splices inside segments,
    #: cable slack): printed with every budget
    assumptions: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        out = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in vars(self).items()}
        out["assumptions"] = list(self.assumptions)
        return out


@dataclass(frozen=True)
class SrlgCut:
    """A shared-risk group whose failure splits the network."""

    group: str
    segments: tuple[str, ...]
    sites_cut_off: tuple[str, ...]


@dataclass
class RedundancyReport:
    """Weak points of the network and how well each site reaches the core.

    ``sites`` has one row per site: ``nearest_core``, ``core_distance_m``, ``edge_paths``,
    ``node_paths``, ``srlg_paths`` (disjoint paths to the core, capped at 2: 2 means "at
    least two", i.e. the site survives any single failure of that kind), ``served`` (sites
    whose every path to the core goes through it), ``single_homed`` (at most one path at the
    report's level; 0 = already cut off), ``new_build_to`` and ``new_build_km``.
    ``single_homed`` is the ranked subset of non-passive sites.
    """

    bridges: tuple[str, ...]
    articulation_sites: tuple[str, ...]
    two_edge_components: list[frozenset[str]]
    srlg_cuts: list[SrlgCut]
    core: tuple[str, ...]
    level: str
    sites: gpd.GeoDataFrame
    single_homed: gpd.GeoDataFrame
    provenance: Provenance | None = None
    timings_s: dict[str, float] = field(default_factory=dict)


@dataclass
class WhatIfResult:
    """What a failure does: lost elements, sites cut off the core, broken routes."""

    cut_segments: tuple[str, ...]
    cut_sites: tuple[str, ...]
    sites_cut_off: gpd.GeoDataFrame
    routes: pd.DataFrame
    fibre_km_lost: float
    free_fibre_km_before: float
    free_fibre_km_after: float
    provenance: Provenance | None = None
    #: core sites (datacentres, CHATONs) that reached another core site before the failure
    #: and reach none after it (or are destroyed): the worst news, reported first
    core_isolated: gpd.GeoDataFrame | None = None
    #: fibre-km figures count known fibres only; these are the km of segments whose fibre
    #: count (lost) or free fibres (before/after) are unknown, left out of the sums above
    unknown_count_km_lost: float = 0.0
    unknown_free_km_before: float = 0.0
    unknown_free_km_after: float = 0.0

    @property
    def broken_routes(self) -> pd.DataFrame:
        """Only the routes the failure breaks."""
        return self.routes[self.routes["broken"]]


@dataclass(frozen=True)
class DiskFailure:
    """The worst disk of a given radius, with the bracket that proves how good it is.

    No disk of radius ``radius_m`` does more damage than ``upper_bound``; the reported
    disk does ``value``. ``proven_optimal`` when both are equal.
    """

    centre: Point
    radius_m: float
    metric: str
    value: float
    upper_bound: float
    proven_optimal: bool
    sites_lost: tuple[str, ...]
    segments_hit: tuple[str, ...]
    fibre_km_lost: float
    evaluations: int
    method: str
    provenance: Provenance | None = None
    #: km of segments hit whose fibre count is unknown (not in ``fibre_km_lost``)
    unknown_count_km_lost: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "centre": [round(self.centre.x, 1), round(self.centre.y, 1)],
            "radius_m": self.radius_m,
            "metric": self.metric,
            "value": self.value,
            "upper_bound": self.upper_bound,
            "proven_optimal": self.proven_optimal,
            "sites_lost": list(self.sites_lost),
            "segments_hit": list(self.segments_hit),
            "fibre_km_lost": round(self.fibre_km_lost, 3),
            "unknown_count_km_lost": round(self.unknown_count_km_lost, 3),
            "evaluations": self.evaluations,
            "method": self.method,
            "provenance": self.provenance.as_dict() if self.provenance else None,
        }


def unknown_label(segments: tuple[str, ...] | list[str]) -> str:
    """``unknown (SEG-1, SEG-2 +3)``: an unknown figure and the segments that make it so."""
    shown = ", ".join(segments[:2]) + (f" +{len(segments) - 2}" if len(segments) > 2 else "")
    return f"unknown ({shown})" if shown else "unknown"


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "wkt"):
        return value.wkt
    return str(value)
