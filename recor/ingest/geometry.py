"""Geometry checks and repairs, vectorised with shapely 2 over a whole layer.

Null/empty refused; Z/M dropped; multi-part lines merged when contiguous; duplicate vertices
removed; invalid geometries repaired only when the repair keeps the shape; coordinates
outside the region refused (wrong CRS, swapped axes, degrees declared as metres); declared
lengths compared with the length measured in EPSG:2154.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from recor.config import ImportSettings
from recor.ingest.findings import Findings

__all__ = ["check_extent", "check_geometries", "check_lengths", "check_stacked_sites"]

_LINE, _MULTILINE, _POINT, _MULTIPOINT = 1, 5, 0, 4
_TYPE_NAMES = {0: "Point", 1: "LineString", 2: "LinearRing", 3: "Polygon", 4: "MultiPoint",
               5: "MultiLineString", 6: "MultiPolygon", 7: "GeometryCollection"}  # fmt: skip


def check_geometries(
    frame: gpd.GeoDataFrame,
    expected: str,
    findings: Findings,
    settings: ImportSettings,
    *,
    delivered: gpd.GeoSeries | None = None,
) -> gpd.GeoDataFrame:
    """The frame with clean 2D geometries; unusable ones set to None (and reported).

    Parameters
    ----------
    frame
        Features in EPSG:2154 with provenance columns.
    expected
        ``"point"`` or ``"line"``.
    delivered
        The same features as delivered, before reprojection (aligned on ``frame``'s index):
        out-of-region findings quote these coordinates, the ones the user can look up.
    """
    geoms = np.asarray(frame.geometry.array, dtype=object)
    geoms, non_finite = _drop_non_finite(frame, geoms, findings)
    null = (shapely.is_missing(geoms) | shapely.is_empty(geoms)) & ~non_finite
    findings.add_rows(frame, null, "GEOM-NULL", "géométrie absente ou vide", field="geometry")
    geoms = np.where(null, None, geoms)
    has_zm = shapely.has_z(geoms) | shapely.has_m(geoms)
    if has_zm.any():
        findings.add(
            "GEOM-Z-DROPPED",
            f"{int(has_zm.sum())} entité(s) en 3D ou avec mesure M : coordonnées Z/M supprimées",
            file=str(frame["_file"].iloc[0]),
            field="geometry",
            value=int(has_zm.sum()),
        )
        geoms[has_zm] = shapely.force_2d(geoms[has_zm])
    if expected == "line":
        geoms = _lines(frame, geoms, findings, settings)
    else:
        geoms = _points(frame, geoms, findings)
    out = frame.copy(deep=False)
    out[out.geometry.name] = gpd.GeoSeries(geoms, index=frame.index, crs=frame.crs)
    return check_extent(out, findings, settings, delivered=delivered)


def _drop_non_finite(
    frame: pd.DataFrame, geoms: np.ndarray, findings: Findings
) -> tuple[np.ndarray, np.ndarray]:
    """Refuse geometries with a NaN coordinate: set to None, and their mask.

    Infinite coordinates are left to :func:`check_extent`, which says where they come from
    (delivered so, or a reprojection from a wrong declared CRS).
    """
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    bad_coords = np.isnan(coords).any(axis=1)
    if not bad_coords.any():
        return geoms, np.zeros(len(geoms), dtype=bool)
    bad = np.bincount(index[bad_coords], minlength=len(geoms)) > 0
    wkt = pd.Series(shapely.to_wkt(np.where(bad, geoms, None)), index=frame.index)
    findings.add_rows(
        frame, bad, "GEOM-NON-FINITE", "coordonnée NaN (non numérique) : géométrie refusée",
        field="geometry", values=wkt.str.slice(0, 80),
    )  # fmt: skip
    return np.where(bad, None, geoms), bad


def check_stacked_sites(sites: gpd.GeoDataFrame, findings: Findings) -> None:
    """Warn about sites delivered at exactly the same position (to the millimetre).

    Each stacked site is named with how many share its position and one other code there:
    segment ends at that point could snap to any of them.
    """
    geoms = np.asarray(sites.geometry.array, dtype=object)
    present = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    if present.sum() < 2:
        return
    xy = np.round(shapely.get_coordinates(geoms[present]) * 1000).astype(np.int64)
    order, group = _positions(xy)
    counts = np.bincount(group)
    stacked_rows = counts[group] > 1
    if not stacked_rows.any():
        return
    rows = np.flatnonzero(present)
    codes = sites["code"].astype(str).to_numpy()[rows]
    first = np.full(len(counts), -1)
    first[group[order[::-1]]] = order[::-1]
    second = np.full(len(counts), -1)
    later = order[np.r_[False, group[order][1:] == group[order][:-1]]]
    second[group[later[::-1]]] = later[::-1]
    other = np.where(first[group] == np.arange(len(group)), second[group], first[group])
    flags = np.zeros(len(sites), dtype=bool)
    flags[rows[stacked_rows]] = True
    message = pd.Series("", index=sites.index, dtype=object)
    message.iloc[rows[stacked_rows]] = [
        f"{counts[g]} sites à la même position, dont {codes[o]}"
        for g, o in zip(group[stacked_rows], other[stacked_rows], strict=True)
    ]
    findings.add_rows(sites, flags, "TOPO-SITE-STACKED", message, field="geometry")


def _positions(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows sorted by position (stable), and each row's position number in that order.

    The numbers of ``np.unique(xy, axis=0, return_inverse=True)``, by two sorted keys
    rather than its sort of whole rows (four times slower).
    """
    order = np.lexsort((xy[:, 1], xy[:, 0]))
    ranked = xy[order]
    new = np.r_[True, (ranked[1:] != ranked[:-1]).any(axis=1)]
    group = np.empty(len(xy), dtype=np.intp)
    group[order] = np.cumsum(new) - 1
    return order, group


def _lines(
    frame: pd.DataFrame, geoms: np.ndarray, findings: Findings, settings: ImportSettings
) -> np.ndarray:
    types = shapely.get_type_id(geoms)
    multi = types == _MULTILINE
    if multi.any():
        merged = shapely.line_merge(geoms[multi])
        contiguous = shapely.get_type_id(merged) == _LINE
        rows = np.flatnonzero(multi)
        flags = np.zeros(len(geoms), dtype=bool)
        flags[rows[contiguous]] = True
        findings.add_rows(
            frame, flags, "GEOM-MULTI-MERGED", "multi-ligne contiguë fusionnée en une ligne",
            field="geometry", values="MultiLineString",
        )  # fmt: skip
        broken = np.zeros(len(geoms), dtype=bool)
        broken[rows[~contiguous]] = True
        parts = pd.Series(shapely.get_num_geometries(geoms), index=frame.index)
        findings.add_rows(
            frame, broken, "GEOM-MULTI-DISJOINT",
            "multi-ligne en morceaux disjoints : livrer un tronçon par morceau",
            field="geometry", values=parts.astype(str) + " parties",
        )  # fmt: skip
        geoms[rows[contiguous]] = merged[contiguous]
        geoms[rows[~contiguous]] = None
        types = shapely.get_type_id(geoms)
    wrong = (types != _LINE) & (types >= 0)
    if wrong.any():  # texts are built for the rows reported only
        findings.add_rows(
            frame, wrong, "GEOM-TYPE", "une ligne (LineString) est attendue",
            field="geometry", values=_type_names(geoms, frame.index),
        )  # fmt: skip
    geoms[wrong] = None
    geoms = _remove_duplicate_vertices(frame, geoms, findings)
    with np.errstate(over="ignore"):  # a flipped byte can make a coordinate ~1e308: length inf
        lengths = shapely.length(geoms)
    zero = (types == _LINE) & ~wrong & (lengths == 0)
    findings.add_rows(
        frame, zero, "GEOM-ZERO-LENGTH", "tronçon de longueur nulle", field="geometry"
    )
    geoms[zero] = None
    return _repair(frame, geoms, findings, settings, _LINE)


def _type_names(geoms: np.ndarray, index: pd.Index) -> pd.Series:
    return pd.Series(shapely.get_type_id(geoms), index=index).map(_TYPE_NAMES).fillna("?")


def _points(frame: pd.DataFrame, geoms: np.ndarray, findings: Findings) -> np.ndarray:
    types = shapely.get_type_id(geoms)
    single = (types == _MULTIPOINT) & (shapely.get_num_geometries(geoms) == 1)
    geoms[single] = shapely.get_geometry(geoms[single], 0)
    types = shapely.get_type_id(geoms)
    wrong = (types != _POINT) & (types >= 0)
    if wrong.any():  # texts are built for the rows reported only
        findings.add_rows(
            frame, wrong, "GEOM-TYPE", "un point est attendu", field="geometry",
            values=_type_names(geoms, frame.index),
        )  # fmt: skip
    geoms[wrong] = None
    return geoms


def _remove_duplicate_vertices(
    frame: pd.DataFrame, geoms: np.ndarray, findings: Findings
) -> np.ndarray:
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    if len(coords) < 2:
        return geoms
    repeated = (index[1:] == index[:-1]) & (coords[1:] == coords[:-1]).all(axis=1)
    counts = np.bincount(index[1:][repeated], minlength=len(geoms))
    has = counts > 0
    if has.any():
        findings.add_rows(
            frame, has, "GEOM-DUP-VERTEX", "sommets consécutifs identiques supprimés",
            field="geometry",
            values=pd.Series(counts, index=frame.index).astype(str) + " sommet(s)",
        )  # fmt: skip
        geoms[has] = shapely.remove_repeated_points(geoms[has], 0.0)
    return geoms


def _repair(
    frame: pd.DataFrame,
    geoms: np.ndarray,
    findings: Findings,
    settings: ImportSettings,
    type_id: int,
) -> np.ndarray:
    present = ~shapely.is_missing(geoms)
    invalid = present & ~shapely.is_valid(geoms)
    if not invalid.any():
        return geoms
    repaired = shapely.make_valid(geoms[invalid])
    keeps = (shapely.get_type_id(repaired) == type_id) & (
        shapely.hausdorff_distance(geoms[invalid], repaired) <= settings.snap_tolerance_m
    )
    rows = np.flatnonzero(invalid)
    fixed = np.zeros(len(geoms), dtype=bool)
    fixed[rows[keeps]] = True
    lost = np.zeros(len(geoms), dtype=bool)
    lost[rows[~keeps]] = True
    reason = pd.Series(shapely.is_valid_reason(geoms), index=frame.index)
    findings.add_rows(
        frame, fixed, "GEOM-REPAIRED", "réparée sans déformation", field="geometry", values=reason
    )
    findings.add_rows(
        frame, lost, "GEOM-INVALID", "la réparation changerait la forme : corriger la source",
        field="geometry", values=reason,
    )  # fmt: skip
    geoms[rows[keeps]] = repaired[keeps]
    geoms[rows[~keeps]] = None
    return geoms


def check_extent(
    frame: gpd.GeoDataFrame,
    findings: Findings,
    settings: ImportSettings,
    *,
    delivered: gpd.GeoSeries | None = None,
) -> gpd.GeoDataFrame:
    """Refuse features outside the region's plausible extent; they are set to None.

    Catches degrees declared as metres, swapped axes and a wrong declared CRS. The finding
    quotes the first delivered coordinate (before reprojection, in the declared CRS) and the
    extent (``RECOR_IMPORTS_REGION_EXTENT``).
    """
    geoms = np.asarray(frame.geometry.array, dtype=object)
    bounds = shapely.bounds(geoms)
    xmin, ymin, xmax, ymax = settings.region_extent
    present = ~shapely.is_missing(geoms)
    with np.errstate(invalid="ignore"):
        inside = (
            (bounds[:, 0] >= xmin) & (bounds[:, 2] <= xmax)
            & (bounds[:, 1] >= ymin) & (bounds[:, 3] <= ymax)
        )  # fmt: skip
        degrees = (np.abs(bounds[:, 2]) <= 180) & (np.abs(bounds[:, 3]) <= 90)
        swapped = (bounds[:, 1] >= xmin) & (bounds[:, 3] <= xmax) & (bounds[:, 0] >= ymin)
    outside = present & ~inside
    if not outside.any():
        return frame
    hint = np.select(
        [~np.isfinite(bounds).all(axis=1), degrees, swapped],
        [
            "coordonnée infinie, livrée ainsi ou non reprojetable depuis le CRS déclaré "
            "(voir CRS-REPROJECTED) : coordonnées en mètres déclarées en degrés ? "
            "(vérifier le .prj ou --crs)",
            "coordonnées en degrés déclarées en mètres ? (vérifier le .prj ou --crs)",
            "axes X/Y inversés ?",
        ],
        f"hors de l'emprise régionale {_extent_text(settings.region_extent)} "
        "(RECOR_IMPORTS_REGION_EXTENT) : CRS déclaré faux, ou livraison hors région",
    )
    first = _first_coordinates(frame, outside, delivered)
    hint = np.char.add(hint.astype(str), np.where(first == "", "", " ; coordonnées livrées : "))
    hint = np.char.add(hint, first.astype(str))
    values = pd.Series(
        [
            shown if np.isfinite(x) and np.isfinite(y) else "non reprojetable"
            for (x, y), shown in zip(bounds[outside][:, :2], first[outside], strict=True)
        ],
        index=frame.index[outside],
    )
    findings.add_rows(
        frame, outside, "CRS-EXTENT", pd.Series(hint, index=frame.index), field="geometry",
        values=values.reindex(frame.index),
    )  # fmt: skip
    out = frame.copy(deep=False)
    kept = np.where(outside, None, geoms)
    out[out.geometry.name] = gpd.GeoSeries(kept, index=frame.index, crs=frame.crs)
    return out


def _extent_text(extent: tuple[float, float, float, float]) -> str:
    xmin, ymin, xmax, ymax = extent
    return f"X {xmin:,.0f}–{xmax:,.0f}, Y {ymin:,.0f}–{ymax:,.0f} m (EPSG:2154)".replace(",", " ")


def _first_coordinates(
    frame: gpd.GeoDataFrame, rows: np.ndarray, delivered: gpd.GeoSeries | None
) -> np.ndarray:
    """Per row: the first coordinate as delivered (declared CRS), else as stored."""
    out = np.full(len(frame), "", dtype=object)
    if not rows.any():
        return out
    source = frame.geometry if delivered is None else delivered.reindex(frame.index)
    geoms = np.asarray(source.array, dtype=object)[rows]
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    if not len(coords):
        return out
    firsts = np.unique(owner, return_index=True)
    crs = source.crs
    label = f"EPSG:{crs.to_epsg()}" if crs is not None and crs.to_epsg() else "CRS déclaré"
    target = np.flatnonzero(rows)[firsts[0]]
    out[target] = [f"{x:.6g} {y:.6g} ({label})" for x, y in coords[firsts[1]]]
    return out


def check_lengths(segments: gpd.GeoDataFrame, findings: Findings, settings: ImportSettings) -> None:
    """Report segments whose declared length disagrees with the length measured in EPSG:2154."""
    if "declared_length" not in segments:
        return
    declared = segments["declared_length"].to_numpy(dtype=float, na_value=np.nan)
    with np.errstate(over="ignore", invalid="ignore"):
        measured = shapely.length(np.asarray(segments.geometry.array, dtype=object))
        gap = np.abs(declared - measured)
        off = (
            np.isfinite(declared) & np.isfinite(measured)
            & (gap > settings.length_mismatch_ratio * measured)
            & (gap > settings.length_mismatch_min_m)
        )  # fmt: skip
    if not off.any():
        return
    message = _length_messages(declared, measured, off, segments.index)
    findings.add_rows(
        segments, off, "GEOM-LENGTH-MISMATCH", message, field="declared_length",
        values=pd.Series(declared, index=segments.index),
    )  # fmt: skip


def _length_messages(
    declared: np.ndarray, measured: np.ndarray, off: np.ndarray, index: pd.Index
) -> pd.Series:
    out = pd.Series("", index=index, dtype=object)
    d, m = declared[off], measured[off]
    out[off] = [
        f"déclarée {a:.0f} m, mesurée {b:.0f} m en Lambert-93 (rapport {a / b:.2f})"
        for a, b in zip(d, m, strict=True)
    ]
    return out
