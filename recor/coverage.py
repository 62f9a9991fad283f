"""Coverage of the territory by the network: per commune (or grid cell), per département, region.

Pure functions on GeoDataFrames (EPSG:2154, metres): the CLI reads the registry, calls
:func:`coverage`, writes the CSV files. Every distance is the shortest distance between the
unit's polygon and the nearest feature (0 when they touch), as PostGIS ``ST_Distance``;
every share is an area share of the polygon inside a buffer of the in-service network
(buffers with 8 segments per quarter circle, as shapely and PostGIS both default to).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from recor.config import STORAGE_CRS, MapSettings
from recor.domain import STATUS_LABELS_FR, SiteKind, Status
from recor.outputs import safe_table

__all__ = [
    "CoverageResult",
    "band_column",
    "connected_site_codes",
    "coverage",
    "grid_cells",
]

_PASSIVE = (SiteKind.CHAMBER, SiteKind.JUNCTION)


def band_column(band_km: float) -> str:
    """Name of the share column of one band, e.g. ``share_within_5km``."""
    return f"share_within_{band_km:g}km"


@dataclass(frozen=True)
class CoverageResult:
    """Coverage per unit (commune or grid cell) and per département, with provenance.

    ``units`` columns: ``code``, ``name``, ``departement``, ``area_km2``,
    ``dist_network_m``, ``nearest_presence``, ``dist_presence_m``, one
    ``share_within_<b>km`` per band, ``band`` (index of the first band the unit reaches,
    ``len(bands_km)`` beyond the last), ``connected_public_sites``,
    ``has_connected_public_site``; geometry. ``summary``: one row per département and a
    last row ``region``.
    """

    units: gpd.GeoDataFrame
    summary: pd.DataFrame
    unit_kind: str
    bands_km: tuple[float, ...]
    version: str
    parameters: dict[str, Any] = field(default_factory=dict)
    computed_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def write_csv(self, folder: Path | str) -> dict[str, Path]:
        """Write ``coverage_units.csv`` and ``coverage_summary.csv``; returns their paths."""
        target = Path(folder)
        target.mkdir(parents=True, exist_ok=True)
        paths = {
            "units": target / "coverage_units.csv",
            "summary": target / "coverage_summary.csv",
        }
        stamp = f"{self.computed_at:%Y-%m-%d %H:%M UTC}"
        header = f"# recor coverage; data {self.version}; computed {stamp}\n"
        units = pd.DataFrame(self.units.drop(columns="geometry"))
        for key, frame in (("units", units), ("summary", self.summary)):
            with paths[key].open("w", encoding="utf-8", newline="") as handle:
                handle.write(header)
                safe_table(frame).to_csv(handle, index=False, float_format="%.6g")
        return paths


def grid_cells(extent: gpd.GeoSeries | gpd.GeoDataFrame, cell_m: float) -> gpd.GeoDataFrame:
    """Square cells of ``cell_m`` metres covering the extent of the features (EPSG:2154).

    Cells are aligned on multiples of ``cell_m``; ``code`` is ``E<x km>_N<y km>`` of the
    south-west corner.
    """
    xmin, ymin, xmax, ymax = extent.total_bounds
    xs = np.arange(np.floor(xmin / cell_m), np.ceil(xmax / cell_m)) * cell_m
    ys = np.arange(np.floor(ymin / cell_m), np.ceil(ymax / cell_m)) * cell_m
    gx, gy = (a.ravel() for a in np.meshgrid(xs, ys))
    codes = [f"E{x / 1000:g}_N{y / 1000:g}" for x, y in zip(gx, gy, strict=True)]
    return gpd.GeoDataFrame(
        {"code": codes, "name": codes},
        geometry=shapely.box(gx, gy, gx + cell_m, gy + cell_m),
        crs=STORAGE_CRS,
    )


def connected_site_codes(sites: gpd.GeoDataFrame, segments: gpd.GeoDataFrame) -> set[str]:
    """Codes of in-service sites that at least one in-service segment reaches."""
    live = segments[segments["status"] == Status.IN_SERVICE]
    ends = set(live["site_a"]).union(live["site_b"])
    in_service = sites[sites["status"] == Status.IN_SERVICE]
    return set(in_service["code"]).intersection(ends)


def _nearest_distance(
    units: np.ndarray, targets: gpd.GeoDataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Distance from each unit to the nearest target, and that target's position."""
    if targets.empty:
        return np.full(len(units), np.nan), np.full(len(units), -1)
    tree = shapely.STRtree(targets.geometry.values)
    (unit_idx, target_idx), distance = tree.query_nearest(
        units, return_distance=True, all_matches=False
    )
    dist = np.full(len(units), np.nan)
    nearest = np.full(len(units), -1)
    dist[unit_idx] = distance
    nearest[unit_idx] = target_idx
    return dist, nearest


def _assign(points: gpd.GeoDataFrame, areas: gpd.GeoDataFrame, column: str) -> pd.Series:
    """The ``column`` of the area holding each point (first match; NaN when none)."""
    if points.empty or areas.empty:
        return pd.Series([None] * len(points), index=points.index, dtype="object")
    joined = gpd.sjoin(
        points[["geometry"]], areas[[column, "geometry"]], how="left", predicate="intersects"
    )
    joined = joined[~joined.index.duplicated(keep="first")]
    return joined[column].reindex(points.index)


def coverage(
    units: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    segments: gpd.GeoDataFrame,
    *,
    departements: gpd.GeoDataFrame | None = None,
    single_homed: Iterable[str] = (),
    settings: MapSettings | None = None,
    unit_kind: str = "communes",
    version: str = "",
) -> CoverageResult:
    """Coverage analysis of the territory by the in-service network.

    Parameters
    ----------
    units
        Communes (``code``, ``name``, polygons) or grid cells from :func:`grid_cells`.
    sites, segments
        Registry frames (every status; only in-service ones serve coverage; segments of
        every status count in the km-by-status summary).
    departements
        Département polygons (``code``, ``name``). When None, a commune's département is
        the first two digits of its INSEE code; grid cells get none (region only).
    single_homed
        Codes of single-homed sites (``RedundancyReport.single_homed``), counted per
        département.
    unit_kind
        ``"communes"`` or ``"grid"`` (stated in the result).

    Returns
    -------
    CoverageResult
    """
    settings = settings or MapSettings()
    bands = tuple(sorted(settings.distance_bands_km))
    out = gpd.GeoDataFrame(
        units[["code", "name"]].copy(), geometry=units.geometry.values, crs=units.crs
    )
    geoms = out.geometry.values
    areas_m2 = shapely.area(geoms)
    out["area_km2"] = areas_m2 / 1e6

    live = segments[segments["status"] == Status.IN_SERVICE]
    presence = sites[
        sites["kind"].isin(settings.presence_kinds) & (sites["status"] == Status.IN_SERVICE)
    ].reset_index(drop=True)
    out["dist_network_m"], _ = _nearest_distance(geoms, live)
    out["dist_presence_m"], nearest = _nearest_distance(geoms, presence)
    codes = presence["code"].to_numpy()
    out["nearest_presence"] = [codes[i] if i >= 0 else None for i in nearest]

    network = shapely.union_all(live.geometry.values) if len(live) else None
    buffers = {b: shapely.buffer(network, b * 1000.0) if network else None for b in bands}
    for b in bands:
        covered = shapely.area(shapely.intersection(geoms, buffers[b])) if buffers[b] else 0.0
        out[band_column(b)] = np.where(
            areas_m2 > 0, covered / np.where(areas_m2 > 0, areas_m2, 1), 0.0
        )
    dist_km = out["dist_network_m"].to_numpy() / 1000.0
    out["band"] = np.searchsorted(
        np.asarray(bands), np.nan_to_num(dist_km, nan=np.inf), side="left"
    )

    connected = connected_site_codes(sites, segments)
    public = sites[(sites["kind"] == SiteKind.PUBLIC_SITE) & sites["code"].isin(connected)]
    holder = _assign(public, out.reset_index(drop=True).assign(_unit=np.arange(len(out))), "_unit")
    counts = holder.dropna().astype(int).value_counts()
    out["connected_public_sites"] = counts.reindex(np.arange(len(out)), fill_value=0).to_numpy()
    out["has_connected_public_site"] = out["connected_public_sites"] > 0

    if departements is not None and not departements.empty:
        depts = departements[["code", "name", "geometry"]].reset_index(drop=True)
        points = gpd.GeoDataFrame(geometry=shapely.point_on_surface(geoms), crs=out.crs)
        out["departement"] = _assign(points, depts, "code").to_numpy()
    elif unit_kind == "communes":
        out["departement"] = out["code"].astype(str).str[:2]
        depts = out.dissolve("departement", as_index=False)[["departement", "geometry"]]
        depts = depts.rename(columns={"departement": "code"})
        depts["name"] = depts["code"]
    else:
        out["departement"] = None
        depts = None

    summary = _summary(out, depts, sites, segments, buffers, bands, connected, set(single_homed))
    parameters = {
        "unit": unit_kind,
        "distance_bands_km": list(bands),
        "presence_kinds": list(settings.presence_kinds),
        **({"grid_cell_m": settings.grid_cell_m} if unit_kind == "grid" else {}),
    }
    return CoverageResult(out, summary, unit_kind, bands, version, parameters)


def _summary(
    units: gpd.GeoDataFrame,
    depts: gpd.GeoDataFrame | None,
    sites: gpd.GeoDataFrame,
    segments: gpd.GeoDataFrame,
    buffers: dict[float, Any],
    bands: tuple[float, ...],
    connected: set[str],
    single_homed: set[str],
) -> pd.DataFrame:
    """One row per département, then the region (the union of the units)."""
    areas: list[tuple[str, str, Any, pd.Series]] = []
    if depts is not None:
        for row in depts.itertuples():
            areas.append(
                (str(row.code), str(row.name), row.geometry, units["departement"] == row.code)
            )
    region = shapely.union_all(units.geometry.values)
    areas.append(("region", "Région", region, pd.Series(True, index=units.index)))
    served = sites[~sites["kind"].isin(_PASSIVE)]
    rows = []
    for code, name, geometry, member in areas:
        shapely.prepare(geometry)
        clipped = shapely.intersection(segments.geometry.values, geometry)
        length_km = shapely.length(clipped) / 1000.0
        inside = shapely.intersects(geometry, served.geometry.values)
        row: dict[str, Any] = {"code": code, "name": name, "units": int(member.sum())}
        for status in STATUS_LABELS_FR:
            row[f"km_{status}"] = float(length_km[(segments["status"] == status).to_numpy()].sum())
        live = (segments["status"] == Status.IN_SERVICE).to_numpy()
        fibres = pd.to_numeric(segments["fibre_count"], errors="coerce").fillna(0).to_numpy()
        row["fibre_km_in_service"] = float((length_km * fibres)[live].sum())
        area_km2 = shapely.area(geometry) / 1e6
        row["area_km2"] = area_km2
        dist = units.loc[member, "dist_network_m"]
        for b in bands:
            row[f"units_within_{b:g}km"] = int((dist <= b * 1000.0).sum())
            covered = (
                shapely.area(shapely.intersection(geometry, buffers[b])) if buffers[b] else 0.0
            )
            row[f"area_within_{b:g}km_km2"] = covered / 1e6
        codes = served.loc[inside, "code"]
        row["sites_connected"] = int(codes.isin(connected).sum())
        row["single_homed_sites"] = int(codes.isin(single_homed).sum())
        rows.append(row)
    return pd.DataFrame(rows)
