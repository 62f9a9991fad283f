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
from scipy.spatial import cKDTree

from recor.config import STORAGE_CRS, MapSettings
from recor.domain import STATUS_LABELS_FR, SiteKind, Status
from recor.outputs import safe_table

__all__ = [
    "CoverageResult",
    "band_column",
    "connected_site_codes",
    "coverage",
    "covered_parts",
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
    last row ``region``. ``zones``: per band (``band_km``) and unit (``code``), the part of
    the unit within that distance of the in-service network.
    """

    units: gpd.GeoDataFrame
    summary: pd.DataFrame
    unit_kind: str
    bands_km: tuple[float, ...]
    version: str
    parameters: dict[str, Any] = field(default_factory=dict)
    computed_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    zones: gpd.GeoDataFrame | None = None

    def epci(self) -> pd.DataFrame:
        """Per EPCI (communes with an ``epci_code``): population and what is served.

        Columns ``code``, ``name``, ``communes``, ``population`` (nullable: unknown when a
        member's is), ``population_within_<b>km`` (population of the member communes that
        reach the band), ``connected_public_sites``. Empty without EPCI membership.
        """
        units = self.units
        if "epci_code" not in units or units["epci_code"].isna().all():
            return pd.DataFrame(columns=["code", "name", "communes", "population"])
        frame = pd.DataFrame(units.drop(columns="geometry"))
        frame = frame[frame["epci_code"].notna()]
        population = frame["population"].astype("Float64")
        rows = {
            "communes": frame.groupby("epci_code").size(),
            "name": frame.groupby("epci_code")["epci_name"].first(),
            "population": population.groupby(frame["epci_code"])
            .sum(min_count=1)
            .where(~population.isna().groupby(frame["epci_code"]).any()),
            "connected_public_sites": frame.groupby("epci_code")["connected_public_sites"].sum(),
        }
        for b in self.bands_km:
            reached = frame["dist_network_m"] <= b * 1000.0
            rows[f"population_within_{b:g}km"] = (
                population.where(reached, 0).groupby(frame["epci_code"]).sum(min_count=1)
            ).where(~population.isna().groupby(frame["epci_code"]).any())
        out = pd.DataFrame(rows).rename_axis("code").reset_index()
        for column in out.columns:
            if column.startswith("population"):
                out[column] = out[column].round().astype("Int64")
        first = ["code", "name", "communes", "population"]
        return out[first + [c for c in out.columns if c not in first]]

    def write_csv(self, folder: Path | str) -> dict[str, Path]:
        """Write ``coverage_units.csv``, ``coverage_summary.csv`` (and ``coverage_epci.csv``
        with EPCI membership); returns their paths."""
        target = Path(folder)
        target.mkdir(parents=True, exist_ok=True)
        paths = {
            "units": target / "coverage_units.csv",
            "summary": target / "coverage_summary.csv",
        }
        epci = self.epci()
        if not epci.empty:
            paths["epci"] = target / "coverage_epci.csv"
        stamp = f"{self.computed_at:%Y-%m-%d %H:%M UTC}"
        header = f"# recor coverage; data {self.version}; computed {stamp}\n"
        units = pd.DataFrame(self.units.drop(columns="geometry"))
        frames = {"units": units, "summary": self.summary, "epci": epci}
        for key, frame in ((k, frames[k]) for k in paths):
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
    ends = set(live["site_a"].tolist()).union(live["site_b"].tolist())
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


#: Above this many lines near a unit, cells proven covered are set aside first.
_DENSE_LINES = 32


def _unproven_cells(unit: shapely.Geometry, vertices: cKDTree, reach: float) -> shapely.Geometry:
    """The part of ``unit`` that a grid does not prove within ``reach`` of a line.

    The unit is covered with square cells of a quarter of ``reach``; a cell whose centre is
    within ``reach`` minus its half-diagonal of a line vertex lies wholly within ``reach``
    (a vertex is on its line). What is left (often nothing on a dense network) is decided
    by the exact computation.
    """
    step = reach / 4.0
    xmin, ymin, xmax, ymax = unit.bounds
    xs = np.arange(xmin, xmax + step, step)
    ys = np.arange(ymin, ymax + step, step)
    gx, gy = (a.ravel() for a in np.meshgrid(xs, ys))
    shapely.prepare(unit)
    cells = shapely.box(gx, gy, gx + step, gy + step)
    cells = cells[shapely.intersects(unit, cells)]
    centres = shapely.get_coordinates(shapely.centroid(cells))
    limit = reach - step * np.sqrt(0.5)
    distance, _ = vertices.query(centres, k=1, distance_upper_bound=limit)
    proven = np.isfinite(distance)
    if proven.all():
        return shapely.Polygon()
    return shapely.intersection(unit, shapely.coverage_union_all(cells[~proven]))


def _covered_part(
    unit: shapely.Geometry,
    lines: np.ndarray,
    vertices: cKDTree,
    near: np.ndarray,
    reach: float,
) -> shapely.Geometry:
    """The part of ``unit`` within ``reach`` of the lines (``near``: those within reach)."""
    target = unit
    if len(near) > _DENSE_LINES:
        target = _unproven_cells(unit, vertices, reach)
        if shapely.is_empty(target):
            return unit
    xmin, ymin, xmax, ymax = target.bounds
    local = shapely.clip_by_rect(
        lines[near], xmin - reach, ymin - reach, xmax + reach, ymax + reach
    )
    zone = shapely.union_all(shapely.buffer(local[~shapely.is_empty(local)], reach))
    if target is unit:
        return shapely.intersection(unit, zone)
    # the unit less what the exact computation finds uncovered in the unproven cells
    return shapely.difference(unit, shapely.difference(target, zone))


def covered_parts(
    units: np.ndarray, lines: np.ndarray, bands_km: Iterable[float]
) -> dict[float, np.ndarray]:
    """Per band, the part of each unit within that distance (km) of at least one line.

    Each unit buffers only the lines within the band's distance of it (found with an
    STRtree), clipped to its bounding box widened by that distance, which changes nothing
    inside the unit: time and memory grow with the lines near one unit, never with a union
    of the whole network. Where many lines are near, grid cells proven covered by their
    distance to the nearest line are set aside and only the rest is computed exactly. A
    unit wholly within a band is wholly within every wider band.

    Returns
    -------
    dict
        Band (km) → array of the covered part of each unit (an empty polygon when none).
    """
    empty = shapely.Polygon()
    parts: dict[float, np.ndarray] = {}
    whole = np.zeros(len(units), dtype=bool)
    tree = shapely.STRtree(lines) if len(lines) else None
    vertices = cKDTree(shapely.get_coordinates(lines)) if len(lines) else None
    areas = shapely.area(units)
    for band in sorted(bands_km):
        reach = band * 1000.0
        covered = np.full(len(units), empty, dtype=object)
        covered[whole] = units[whole]
        todo = np.flatnonzero(~whole)
        if tree is None or not len(todo):
            parts[band] = covered
            continue
        unit_pos, line_idx = tree.query(units[todo], predicate="dwithin", distance=reach)
        order = np.argsort(unit_pos, kind="stable")
        unit_pos, line_idx = unit_pos[order], line_idx[order]
        starts = np.searchsorted(unit_pos, np.arange(len(todo) + 1))
        for pos, unit in enumerate(todo.tolist()):
            near = line_idx[starts[pos] : starts[pos + 1]]
            if not len(near):
                continue
            part = _covered_part(units[unit], lines, vertices, near, reach)
            if shapely.area(part) >= areas[unit] * (1 - 1e-9):
                whole[unit] = True
                part = units[unit]
            covered[unit] = part
        parts[band] = covered
    return parts


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
    carried = [c for c in ("code", "name", "population", "epci_code", "epci_name") if c in units]
    out = gpd.GeoDataFrame(units[carried].copy(), geometry=units.geometry.values, crs=units.crs)
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

    covered = covered_parts(geoms, live.geometry.values, bands)
    for b in bands:
        out[band_column(b)] = np.where(
            areas_m2 > 0, shapely.area(covered[b]) / np.where(areas_m2 > 0, areas_m2, 1), 0.0
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

    summary = _summary(out, depts, sites, segments, covered, bands, connected, set(single_homed))
    parameters = {
        "unit": unit_kind,
        "distance_bands_km": list(bands),
        "presence_kinds": list(settings.presence_kinds),
        **({"grid_cell_m": settings.grid_cell_m} if unit_kind == "grid" else {}),
    }
    zones = _zones(out, covered)
    return CoverageResult(out, summary, unit_kind, bands, version, parameters, zones=zones)


def _zones(units: gpd.GeoDataFrame, covered: dict[float, np.ndarray]) -> gpd.GeoDataFrame:
    """The covered part of every unit, band by band (empty parts left out)."""
    frames = []
    for band, parts in covered.items():
        keep = ~shapely.is_empty(parts)
        frames.append(
            gpd.GeoDataFrame(
                {"band_km": band, "code": units["code"].to_numpy()[keep]},
                geometry=list(parts[keep]),
                crs=units.crs,
            )
        )
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=units.crs)


def _clipped_length_km(lines: np.ndarray, area: shapely.Geometry) -> np.ndarray:
    """Length (km) of each line inside ``area``: whole lines inside it are not intersected."""
    shapely.prepare(area)
    inside = shapely.contains_properly(area, lines)
    crossing = shapely.intersects(area, lines) & ~inside
    length = np.where(inside, shapely.length(lines), 0.0)
    length[crossing] = shapely.length(shapely.intersection(lines[crossing], area))
    return length / 1000.0


def _summary(
    units: gpd.GeoDataFrame,
    depts: gpd.GeoDataFrame | None,
    sites: gpd.GeoDataFrame,
    segments: gpd.GeoDataFrame,
    covered: dict[float, np.ndarray],
    bands: tuple[float, ...],
    connected: set[str],
    single_homed: set[str],
) -> pd.DataFrame:
    """One row per département, then the region.

    Areas are sums over the units (which partition the territory), so no polygon is ever
    merged with the network; lengths are the segments clipped to each département, and the
    region's are their sum (with a grid, the segments inside the grid's extent).
    """
    served = sites[~sites["kind"].isin(_PASSIVE)]
    lines = segments.geometry.values
    statuses = segments["status"].to_numpy()
    live = statuses == Status.IN_SERVICE
    fibres = pd.to_numeric(segments["fibre_count"], errors="coerce").to_numpy(
        dtype=float, na_value=np.nan
    )
    unit_area = shapely.area(units.geometry.values)
    covered_area = {b: shapely.area(covered[b]) for b in bands}
    areas: list[tuple[str, str, np.ndarray, np.ndarray, np.ndarray]] = []
    if depts is not None:
        holder = _assign(served, depts, "code").to_numpy()
        for row in depts.itertuples():
            member = (units["departement"] == row.code).to_numpy()
            length = _clipped_length_km(lines, row.geometry)
            areas.append((str(row.code), str(row.name), member, length, holder == row.code))
        region_length = np.sum([a[3] for a in areas], axis=0) if areas else np.zeros(len(lines))
        region_sites = pd.notna(holder)
    else:
        extent = shapely.box(*units.total_bounds)
        region_length = _clipped_length_km(lines, extent)
        region_sites = shapely.intersects(extent, served.geometry.values)
    everything = np.ones(len(units), dtype=bool)
    areas.append(("region", "Région", everything, region_length, np.asarray(region_sites)))
    rows = []
    for code, name, member, length_km, inside in areas:
        row: dict[str, Any] = {"code": code, "name": name, "units": int(member.sum())}
        for status in STATUS_LABELS_FR:
            row[f"km_{status}"] = float(length_km[statuses == status].sum())
        known = live & ~np.isnan(fibres)
        row["fibre_km_in_service"] = float((length_km * np.nan_to_num(fibres))[known].sum())
        # unknown fibre counts are not zero: their length is reported apart
        row["km_in_service_unknown_fibres"] = float(length_km[live & np.isnan(fibres)].sum())
        row["area_km2"] = float(unit_area[member].sum() / 1e6)
        dist = units.loc[member, "dist_network_m"]
        for b in bands:
            row[f"units_within_{b:g}km"] = int((dist <= b * 1000.0).sum())
            row[f"area_within_{b:g}km_km2"] = float(covered_area[b][member].sum() / 1e6)
        codes = served.loc[inside, "code"]
        row["sites_connected"] = int(codes.isin(connected).sum())
        row["single_homed_sites"] = int(codes.isin(single_homed).sum())
        rows.append(row)
    return pd.DataFrame(rows)
