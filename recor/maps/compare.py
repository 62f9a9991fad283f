"""What changed between two states of the network: two dates, or now and after the planned build.

Pure functions on data (registry frames, redundancy reports, coverage results): the
orchestration (:mod:`recor.maps.build`) reads the two snapshots and computes the reports,
:mod:`recor.maps.comparison_map` draws the result.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from recor.coverage import CoverageResult
from recor.domain import SiteKind, Status
from recor.maps._fr import km_fr
from recor.network import RedundancyReport
from recor.registry import RegistrySnapshot

__all__ = [
    "CHANGES",
    "PLANNED_BUILD_STATUSES",
    "Comparison",
    "Side",
    "band_change",
    "compare",
    "coverage_figures",
    "element_changes",
    "network_figures",
    "resilience_changes",
    "resilience_figures",
    "with_planned_build",
]

#: Kinds of change of a site or segment, in the order the page lists them.
CHANGES: tuple[str, ...] = ("added", "removed", "status")

#: Statuses that the planned build puts in service: what is planned and what is being built.
PLANNED_BUILD_STATUSES: tuple[str, ...] = (Status.PLANNED.value, Status.UNDER_CONSTRUCTION.value)

_PASSIVE = (SiteKind.CHAMBER.value, SiteKind.JUNCTION.value)


@dataclass(frozen=True)
class Side:
    """One state compared: its frames, French label, and the analyses computed on it."""

    label: str
    sites: gpd.GeoDataFrame
    segments: gpd.GeoDataFrame
    report: RedundancyReport
    coverage: CoverageResult | None = None


@dataclass(frozen=True)
class Comparison:
    """Changes from ``before`` to ``after``.

    ``sites`` and ``segments``: one row per changed element (``code``, ``name`` for sites,
    ``change`` in :data:`CHANGES`, ``status_before``, ``status_after``; geometry of the
    after state, of the before state for a removed one). ``figures``: ``indicator``,
    ``before``, ``after`` (nullable: unknown stays unknown), ``unit``. ``gained``: sites of
    both states single-homed before and not after (a second path); ``lost``: the reverse.
    """

    before: str
    after: str
    sites: gpd.GeoDataFrame
    segments: gpd.GeoDataFrame
    figures: pd.DataFrame
    gained: gpd.GeoDataFrame
    lost: gpd.GeoDataFrame
    planned: bool = False

    def counts(self) -> pd.DataFrame:
        """Number of changed elements: ``entity`` (sites, segments) × ``change``."""
        rows = [
            {"entity": entity, "change": change, "count": int((frame["change"] == change).sum())}
            for entity, frame in (("segments", self.segments), ("sites", self.sites))
            for change in CHANGES
        ]
        return pd.DataFrame(rows)


def with_planned_build(snap: RegistrySnapshot) -> RegistrySnapshot:
    """The snapshot as it will be once the planned build is done (input unchanged).

    Sites and segments whose status is in :data:`PLANNED_BUILD_STATUSES` are put in
    service; everything else is kept as it is.
    """

    def built(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        out = frame.copy()
        out.loc[out["status"].astype(str).isin(PLANNED_BUILD_STATUSES), "status"] = (
            Status.IN_SERVICE.value
        )
        return out

    return dataclasses.replace(snap, sites=built(snap.sites), segments=built(snap.segments))


def element_changes(before: gpd.GeoDataFrame, after: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Elements (by code) added, removed or whose status changed from ``before`` to ``after``."""
    keep = ["code", "status", *(["name"] if "name" in after else []), "geometry"]
    old = pd.DataFrame(before[keep]).set_index("code")
    new = pd.DataFrame(after[keep]).set_index("code")
    added = new.index.difference(old.index)
    removed = old.index.difference(new.index)
    common = new.index.intersection(old.index)
    moved = common[
        old.loc[common, "status"].astype(str).to_numpy()
        != new.loc[common, "status"].astype(str).to_numpy()
    ]
    parts = [
        new.loc[added].assign(
            change="added", status_before=None, status_after=new.loc[added, "status"]
        ),
        old.loc[removed].assign(
            change="removed", status_before=old.loc[removed, "status"], status_after=None
        ),
        new.loc[moved].assign(
            change="status",
            status_before=old.loc[moved, "status"],
            status_after=new.loc[moved, "status"],
        ),
    ]
    out = pd.concat(parts).drop(columns="status").rename_axis("code").reset_index()
    for column in ("status_before", "status_after"):
        out[column] = out[column].map(lambda v: None if v is None or pd.isna(v) else str(v))
    return gpd.GeoDataFrame(out, geometry="geometry", crs=after.crs or before.crs)


def resilience_changes(
    before: RedundancyReport, after: RedundancyReport, sites: gpd.GeoDataFrame
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Sites of both states that gain a second path (single-homed before, not after) and
    those that lose it; rows of ``sites`` (the after state's frame)."""
    reached_before = set(before.sites["code"])
    reached_after = set(after.sites["code"])
    single_before = set(before.single_homed["code"])
    single_after = set(after.single_homed["code"])
    both = reached_before & reached_after
    gained = (single_before - single_after) & both
    lost = (single_after - single_before) & both
    return (
        sites[sites["code"].isin(gained)].sort_values("code"),
        sites[sites["code"].isin(lost)].sort_values("code"),
    )


def network_figures(sites: gpd.GeoDataFrame, segments: gpd.GeoDataFrame) -> dict[str, float]:
    """Headline figures of a network state: segments, km and sites by status."""
    status = segments["status"].astype(str)
    length = pd.to_numeric(segments.get("length_m", segments.geometry.length), errors="coerce")
    served = sites[~sites["kind"].astype(str).isin(_PASSIVE)]
    return {
        "Tronçons en service": int((status == Status.IN_SERVICE.value).sum()),
        "Linéaire en service (km)": float(length[status == Status.IN_SERVICE.value].sum() / 1000),
        "Linéaire en projet ou en construction (km)": float(
            length[status.isin(PLANNED_BUILD_STATUSES)].sum() / 1000
        ),
        "Sites en service (hors chambres et jonctions)": int(
            (served["status"].astype(str) == Status.IN_SERVICE.value).sum()
        ),
    }


def resilience_figures(report: RedundancyReport) -> dict[str, float]:
    """Headline figures of a redundancy report (the shared resilience definition)."""
    return {
        "Sites mono-raccordés": len(report.single_homed),
        "Tronçons critiques": len(report.bridges),
        "Sites critiques": len(report.articulation_sites),
    }


def coverage_figures(result: CoverageResult) -> dict[str, float | None]:
    """Headline figures of a coverage result: units and population within each band."""
    region = result.summary.iloc[-1]
    unit = "communes" if result.unit_kind == "communes" else "mailles"
    figures: dict[str, float | None] = {}
    for b in result.bands_km:
        figures[f"{unit.capitalize()} à {km_fr(b)} km ou moins du réseau"] = int(
            region[f"units_within_{b:g}km"]
        )
    if "population" in result.units:
        population = result.units["population"].astype("Float64")
        for b in result.bands_km:
            reached = (result.units["dist_network_m"] <= b * 1000.0).to_numpy()
            known = not population[reached].isna().any()
            figures[f"Population à {km_fr(b)} km ou moins du réseau"] = (
                float(population[reached].sum()) if known else None
            )
    figures["Sites raccordés"] = int(region["sites_connected"])
    figures["Communes ou mailles avec un site public raccordé"] = int(
        result.units["has_connected_public_site"].sum()
    )
    return figures


def _figures(before: Side, after: Side) -> pd.DataFrame:
    pairs = [
        (
            network_figures(before.sites, before.segments),
            network_figures(after.sites, after.segments),
        ),
        (resilience_figures(before.report), resilience_figures(after.report)),
    ]
    if before.coverage is not None and after.coverage is not None:
        pairs.append((coverage_figures(before.coverage), coverage_figures(after.coverage)))
    rows = [
        {"indicator": name, "before": first[name], "after": second.get(name)}
        for first, second in pairs
        for name in first
    ]
    out = pd.DataFrame(rows, columns=["indicator", "before", "after"])
    out["before"] = out["before"].astype("Float64")
    out["after"] = out["after"].astype("Float64")
    return out


def compare(before: Side, after: Side, *, planned: bool = False) -> Comparison:
    """Sites and segments added, removed or changed in status, the figures of both states,
    and the sites that gain or lose a second path to the core.

    ``planned``: ``after`` is ``before`` with the planned build done
    (:func:`with_planned_build`); changes are then the elements put in service.
    """
    gained, lost = resilience_changes(before.report, after.report, after.sites)
    return Comparison(
        before=before.label,
        after=after.label,
        sites=element_changes(before.sites, after.sites),
        segments=element_changes(before.segments, after.segments),
        figures=_figures(before, after),
        gained=gained,
        lost=lost,
        planned=planned,
    )


def band_change(before: CoverageResult, after: CoverageResult) -> np.ndarray:
    """Per unit of ``after``, how many bands nearer the network it got (negative: farther)."""
    bands = before.units.set_index("code")["band"]
    previous = after.units["code"].map(bands).to_numpy(dtype=float)
    return np.where(np.isnan(previous), 0, previous - after.units["band"].to_numpy()).astype(int)
