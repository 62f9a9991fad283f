"""Topology: segment ends snapped onto sites, junctions created, network faults reported.

Everything runs on coordinate arrays and STRtree queries (shapely 2), never one Python call
per segment: ends are matched to their declared sites by code, else to the nearest site
within the tolerance (delivered or already in the registry), else clustered with other
unmatched ends into new junction sites; a lone end is a dangle. Then duplicate, overlapping
and crossing segments are looked for with one spatial-index query each.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from recor.config import STORAGE_CRS
from recor.domain import SiteKind
from recor.ingest.findings import Findings

__all__ = ["build_topology", "check_segment_layout", "junction_code"]


def junction_code(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Stable codes of created junction sites, from their position (metre precision)."""
    xs = np.round(x).astype(np.int64).astype(str)
    ys = np.round(y).astype(np.int64).astype(str)
    return np.char.add(np.char.add(np.char.add("J-", xs), "-"), ys).astype(object)


def build_topology(
    sites: gpd.GeoDataFrame,
    segments: gpd.GeoDataFrame,
    registry_sites: gpd.GeoDataFrame | None,
    findings: Findings,
    *,
    tolerance: float,
    source: str = "",
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Tie every segment end to a site; return (sites incl. new junctions, snapped segments).

    Parameters
    ----------
    sites
        Delivered sites (mapped and geometry-checked; None geometries are ignored).
    segments
        Delivered segments; ``site_a``/``site_b`` may be None (found by position).
    registry_sites
        Active registry sites near the delivery (``code``, geometry), or None.
    tolerance
        Snapping distance in metres.
    source
        ``source`` of created junction sites.
    """
    known_codes, known_xy = _known_sites(sites, registry_sites)
    lines = np.asarray(segments.geometry.array, dtype=object)
    usable = ~shapely.is_missing(lines)
    coords, owner = shapely.get_coordinates(lines[usable], return_index=True)
    counts = np.bincount(owner, minlength=int(usable.sum()))
    last = np.cumsum(counts) - 1
    first = last - counts + 1
    rows = np.flatnonzero(usable)
    ends = np.stack([coords[first], coords[last]])  # (2, n, 2): start, end
    declared = [
        segments["site_a"].to_numpy(dtype=object)[rows],
        segments["site_b"].to_numpy(dtype=object)[rows],
    ]
    lookup = pd.Index(known_codes)
    idx = np.stack([_indexer(lookup, d) for d in declared])  # (2, n), -1 when none
    frame = _rows(segments, rows)
    for side, field in enumerate(("site_a", "site_b")):
        unknown = pd.notna(declared[side]) & (idx[side] < 0)
        findings.add_rows(
            frame, unknown, "TOPO-SITE-UNKNOWN",
            "site inconnu : ni dans la livraison ni au registre", field=field,
        )  # fmt: skip
    ends, idx, coords, reversed_ = _orient(
        frame, ends, idx, known_xy, coords, first, last, tolerance, findings
    )
    idx = _nearest(ends, idx, declared, known_xy, tolerance)
    junctions, idx = _junctions(frame, ends, idx, declared, len(known_codes), findings, tolerance)
    all_codes = np.concatenate([known_codes, junctions["code"].to_numpy(dtype=object)])
    all_xy = np.concatenate([known_xy, shapely.get_coordinates(junctions.geometry.array)])
    moved, shift = _snap(frame, coords, first, last, idx, all_xy, findings)
    out = segments.copy(deep=False)
    new_lines = lines.copy()
    # rebuild only the lines that moved: most deliveries end exactly on their sites
    changed = (shift > 0) | reversed_
    if changed.any():
        keep = changed[owner]
        _, compact = np.unique(owner[keep], return_inverse=True)
        new_lines[rows[changed]] = shapely.linestrings(moved[keep], indices=compact)
    out[out.geometry.name] = gpd.GeoSeries(new_lines, index=segments.index, crs=STORAGE_CRS)
    site_a = out["site_a"].to_numpy(dtype=object).copy()
    site_b = out["site_b"].to_numpy(dtype=object).copy()
    # a trailing None keeps the lookup valid when no site exists at all (index -1 → None)
    codes = np.append(np.asarray(all_codes, dtype=object), None)
    site_a[rows] = np.where(idx[0] >= 0, codes[idx[0]], site_a[rows])
    site_b[rows] = np.where(idx[1] >= 0, codes[idx[1]], site_b[rows])
    out["site_a"], out["site_b"] = site_a, site_b
    loop = pd.notna(site_a) & (site_a == site_b)
    findings.add_rows(
        out, loop, "TOPO-SELF-LOOP", "les deux extrémités aboutissent au même site",
        field="site_b", values=pd.Series(site_b, index=out.index),
    )  # fmt: skip
    if len(junctions):
        status = out["status"].to_numpy(dtype=object)[rows][junctions.pop("_segment").to_numpy()]
        junctions["status"] = status
        junctions["source"] = source
        sites = pd.concat([sites, junctions[sites.columns.intersection(junctions.columns)]])
        sites = gpd.GeoDataFrame(
            sites.reset_index(drop=True), geometry=sites.geometry.name, crs=STORAGE_CRS
        )
    return sites, out


def _rows(frame: gpd.GeoDataFrame, rows: np.ndarray) -> gpd.GeoDataFrame:
    """``frame.iloc[rows]`` without a copy in the usual case where every row is kept."""
    return frame if len(rows) == len(frame) else frame.iloc[rows]


def _known_sites(
    sites: gpd.GeoDataFrame, registry_sites: gpd.GeoDataFrame | None
) -> tuple[np.ndarray, np.ndarray]:
    ok = ~shapely.is_missing(np.asarray(sites.geometry.array, dtype=object))
    delivered = sites.loc[ok].drop_duplicates("code")
    codes = [delivered["code"].to_numpy(dtype=object)]
    xy = [shapely.get_coordinates(delivered.geometry.array).reshape(-1, 2)]
    if registry_sites is not None and len(registry_sites):
        others = registry_sites[~registry_sites["code"].isin(delivered["code"])]
        codes.append(others["code"].to_numpy(dtype=object))
        xy.append(shapely.get_coordinates(others.geometry.array).reshape(-1, 2))
    return np.concatenate(codes), np.concatenate(xy)


def _indexer(lookup: pd.Index, codes: np.ndarray) -> np.ndarray:
    out = lookup.get_indexer(np.asarray(codes, dtype=object))
    out[pd.isna(codes)] = -1
    return out


def _distance(points: np.ndarray, idx: np.ndarray, xy: np.ndarray) -> np.ndarray:
    target = xy[np.maximum(idx, 0)] if len(xy) else np.zeros_like(points)
    return np.where(idx >= 0, np.hypot(*(points - target).T), np.inf)


def _orient(
    frame: pd.DataFrame,
    ends: np.ndarray,
    idx: np.ndarray,
    xy: np.ndarray,
    coords: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    tolerance: float,
    findings: Findings,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Reverse segments drawn b → a; report declared ends too far from their site."""
    da, db = _distance(ends[0], idx[0], xy), _distance(ends[1], idx[1], xy)
    cross_a, cross_b = _distance(ends[1], idx[0], xy), _distance(ends[0], idx[1], xy)
    both = (idx[0] >= 0) & (idx[1] >= 0)
    reverse = (
        both
        & ~((da <= tolerance) & (db <= tolerance))
        & (cross_a <= tolerance)
        & (cross_b <= tolerance)
    )
    if reverse.any():
        findings.add_rows(
            frame, reverse, "TOPO-REVERSED", "tracé dessiné de site_b vers site_a : retourné",
            field="geometry", values="",
        )  # fmt: skip
        coords = coords.copy()
        for r in np.flatnonzero(reverse):
            coords[first[r] : last[r] + 1] = coords[first[r] : last[r] + 1][::-1]
        ends = ends.copy()
        ends[:, reverse] = ends[::-1][:, reverse]
        da = np.where(reverse, cross_b, da)
        db = np.where(reverse, cross_a, db)
    for side, (field, dist) in enumerate((("site_a", da), ("site_b", db))):
        far = (idx[side] >= 0) & (dist > tolerance)
        if far.any():
            message = pd.Series("", index=frame.index, dtype=object)
            message[far] = [
                f"extrémité à {d:.1f} m de son site (tolérance {tolerance:g} m)" for d in dist[far]
            ]
            findings.add_rows(frame, far, "TOPO-END-OFF-SITE", message, field=field)
        idx[side] = np.where(far, -2, idx[side])  # reported: not snapped, not clustered
    return ends, idx, coords, reverse


def _nearest(
    ends: np.ndarray, idx: np.ndarray, declared: list[np.ndarray], xy: np.ndarray, tolerance: float
) -> np.ndarray:
    """Ends with no declared site take the nearest site within the tolerance."""
    if not len(xy):
        return idx
    tree = None  # built on the first free end: most deliveries declare every end's site
    for side in (0, 1):
        free = np.flatnonzero(pd.isna(declared[side]) & (idx[side] == -1))
        if not len(free):
            continue
        if tree is None:
            tree = shapely.STRtree(shapely.points(xy))
        found = tree.query_nearest(
            shapely.points(ends[side][free]), max_distance=tolerance, all_matches=False
        )
        idx[side][free[found[0]]] = found[1]
    return idx


def _junctions(
    frame: pd.DataFrame,
    ends: np.ndarray,
    idx: np.ndarray,
    declared: list[np.ndarray],
    offset: int,
    findings: Findings,
    tolerance: float,
) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Cluster ends on no site: two or more ends → a junction site; a lone end → dangle."""
    n = ends.shape[1]
    free_side, free_row = np.nonzero((idx == -1) & pd.isna(np.stack(declared)))
    empty = gpd.GeoDataFrame(
        {"code": [], "name": [], "kind": [], "operator": [], "extra": [], "_file": [],
         "_feature": [], "_segment": []},
        geometry=gpd.GeoSeries([], crs=STORAGE_CRS), crs=STORAGE_CRS,
    )  # fmt: skip
    if not len(free_row):
        return empty, idx
    points = ends[free_side, free_row]
    tree = shapely.STRtree(shapely.points(points))
    left, right = tree.query(shapely.points(points), predicate="dwithin", distance=tolerance)
    graph = coo_matrix((np.ones(len(left)), (left, right)), shape=(len(points), len(points)))
    _, labels = connected_components(graph, directed=False)
    sizes = np.bincount(labels)
    lone = sizes[labels] == 1
    for side, field in enumerate(("site_a", "site_b")):
        mask = np.zeros(n, dtype=bool)
        mask[free_row[lone & (free_side == side)]] = True
        findings.add_rows(
            frame, mask, "TOPO-DANGLE",
            "extrémité pendante : aucun site ni autre tronçon à moins de la tolérance", field=field,
            values=pd.Series(
                [f"{x:.1f} {y:.1f}" for x, y in ends[side]] if mask.any() else "", index=frame.index
            ) if mask.any() else "",
        )  # fmt: skip
    shared = ~lone
    if not shared.any():
        return empty, idx
    group_ids, group_of = np.unique(labels[shared], return_inverse=True)
    cx = np.bincount(group_of, weights=points[shared, 0]) / np.bincount(group_of)
    cy = np.bincount(group_of, weights=points[shared, 1]) / np.bincount(group_of)
    cx, cy = np.round(cx, 2), np.round(cy, 2)
    codes = junction_code(cx, cy)
    first_member = np.full(len(group_ids), -1)
    first_member[group_of[::-1]] = free_row[shared][::-1]
    junctions = gpd.GeoDataFrame(
        {
            "code": codes,
            "name": np.char.add("Jonction ", codes.astype(str)).astype(object),
            "kind": str(SiteKind.JUNCTION),
            "operator": "",
            "extra": [{"created_by": "recor import"} for _ in range(len(codes))],
            "_file": "(créé à l'import)",
            "_feature": -1,
            "_segment": first_member,
        },
        geometry=shapely.points(cx, cy),
        crs=STORAGE_CRS,
    )
    idx = idx.copy()
    idx[free_side[shared], free_row[shared]] = offset + group_of
    findings.add_frame(
        pd.DataFrame(
            {
                "severity": "info",
                "rule": "TOPO-JUNCTION-CREATED",
                "file": "(créé à l'import)",
                "feature": -1,
                "code": codes.astype(str),
                "field": "",
                "value": np.bincount(group_of).astype(str),
                "message": "site de jonction créé où des extrémités de tronçons se rejoignent",
            }
        )
    )
    return junctions, idx


def _snap(
    frame: pd.DataFrame,
    coords: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    idx: np.ndarray,
    xy: np.ndarray,
    findings: Findings,
) -> tuple[np.ndarray, np.ndarray]:
    moved = coords  # a private array (from get_coordinates): moved in place
    shift = np.zeros(len(first))
    for side, position in ((0, first), (1, last)):
        ok = idx[side] >= 0
        target = xy[idx[side][ok]]
        shift[ok] = np.maximum(shift[ok], np.hypot(*(moved[position[ok]] - target).T))
        moved[position[ok]] = target
    snapped = shift > 1e-3
    if snapped.any():  # the distances are written for the snapped rows only
        shown = pd.Series("", index=frame.index, dtype=object)
        shown[snapped] = np.char.add(np.round(shift[snapped], 3).astype(str), " m")
        findings.add_rows(
            frame, snapped, "TOPO-SNAPPED", "extrémité recalée sur son site", field="geometry",
            values=shown,
        )  # fmt: skip
    return moved, shift


def check_segment_layout(
    segments: gpd.GeoDataFrame,
    findings: Findings,
    *,
    tolerance: float,
    block: int = 100_000,
) -> None:
    """Report duplicate, overlapping and crossing segments (after snapping).

    A crossing is two interiors meeting at a point, or one segment's end on the other's
    interior (a T without a node).
    """
    lines = np.asarray(segments.geometry.array, dtype=object)
    usable = np.flatnonzero(~shapely.is_missing(lines))
    if len(usable) < 1:
        return
    geoms = lines[usable]
    frame = _rows(segments, usable)
    codes = frame["code"].astype(str).to_numpy()
    shape = _duplicates(frame, geoms, codes, findings)
    if len(usable) >= 2:
        _pairs(frame, geoms, codes, shape, findings, tolerance=tolerance, block=block)


def _duplicates(
    frame: pd.DataFrame, geoms: np.ndarray, codes: np.ndarray, findings: Findings
) -> np.ndarray:
    """Same-shape groups (-1: unique). Only segments joining the same two sites can be equal."""
    # the two ends as numbers (equal codes, equal numbers), each pair in one order
    ends, _ = pd.factorize(
        np.concatenate([_text_array(frame["site_a"]), _text_array(frame["site_b"])])
    )
    a, b = ends[: len(geoms)].astype(np.int64), ends[len(geoms) :].astype(np.int64)
    pair = np.minimum(a, b) * (int(ends.max(initial=0)) + 1) + np.maximum(a, b)
    candidates = np.flatnonzero(pd.Series(pair).duplicated(keep=False).to_numpy())
    shape = np.full(len(geoms), -1, dtype=np.int64)
    if not len(candidates):
        return shape
    key = shapely.to_wkb(shapely.normalize(shapely.set_precision(geoms[candidates], 0.01)))
    groups, _ = pd.factorize(pd.Series(key))
    counts = np.bincount(groups)
    same = counts[groups] > 1
    shape[candidates[same]] = groups[same]
    duplicated = shape >= 0
    if duplicated.any():
        code = pd.Series(codes)
        by_shape = code.groupby(shape)
        first_code = by_shape.transform("first")
        other = first_code.where(first_code != code, by_shape.transform("last"))
        other.index = frame.index
        findings.add_rows(
            frame, duplicated, "TOPO-DUPLICATE", "même tracé que le tronçon " + other,
            field="geometry", values=other,
        )  # fmt: skip
    return shape


def _text_array(series: pd.Series) -> np.ndarray:
    """Codes as an object array of str, missing ones as ``""``."""
    values = series.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(values, skipna=True) in {"string", "empty"}:
        return np.where(pd.isna(values), "", values)  # already texts: no call per value
    return series.astype(object).where(series.notna(), "").map(str).to_numpy(dtype=object)


def _meeting_away_from_shared_ends(a: np.ndarray, b: np.ndarray, tolerance: float) -> np.ndarray:
    """Where lines ``a`` and ``b`` meet, leaving out the ends they share.

    Two segments leaving the same site and crossing further on meet at both places; the
    finding must point at the crossing, not at the site.
    """
    margin = min(tolerance, 0.01) if tolerance > 0 else 0.01
    meet = shapely.union(
        shapely.intersection(_inner(a, margin), b), shapely.intersection(a, _inner(b, margin))
    )
    return np.where(shapely.is_empty(meet), shapely.intersection(a, b), meet)


def _inner(geoms: np.ndarray, margin: float) -> np.ndarray:
    """The lines shortened by ``margin`` at both ends (first and last edges pulled in)."""
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    counts = np.bincount(index, minlength=len(geoms))
    last = np.cumsum(counts) - 1
    first = last - counts + 1
    for end, neighbour in ((first, first + 1), (last, last - 1)):
        edge = coords[neighbour] - coords[end]
        length = np.hypot(*edge.T)
        step = np.where(length > 2 * margin, margin / np.where(length > 0, length, 1), 0.0)
        coords[end] += edge * step[:, None]
    return shapely.linestrings(coords, indices=index)


def _touching_pairs(
    geoms: np.ndarray, tolerance: float, block: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i < j) of lines that meet other than end to end.

    Lines meeting only at their ends never meet once one is pulled back from them by 1 cm;
    an end on the other's interior (a T without a node) still does. The bounding boxes of the
    shortened lines are queried (most lines that only share an end drop out there), and each
    pair found tests the first line, shortened, against the second, whole; the query and the
    shortened lines go ``block`` lines at a time to bound memory.
    """
    tree = shapely.STRtree(geoms)
    margin = min(tolerance, 0.01) if tolerance > 0 else 0.01
    found = []
    for start in range(0, len(geoms), block):
        stop = min(start + block, len(geoms))
        inner = _inner(geoms[start:stop], margin)
        # one block's bounding-box pairs at a time: never every pair of the delivery at once
        left, right = tree.query(inner)
        keep = left + start != right
        left, right = left[keep], right[keep]
        hit = shapely.intersects(inner[left], geoms[right])
        found.append(np.stack([left[hit] + start, right[hit]]))
    pairs = np.concatenate(found, axis=1) if found else np.empty((2, 0), dtype=np.int64)
    pairs = np.unique(np.sort(pairs, axis=0), axis=1)
    return pairs[0], pairs[1]


def _pairs(
    frame: pd.DataFrame,
    geoms: np.ndarray,
    codes: np.ndarray,
    same_shape: np.ndarray,
    findings: Findings,
    *,
    tolerance: float,
    block: int,
) -> None:
    """Crossings and overlaps from one bounding-box query and one DE-9IM matrix per pair.

    Interiors meeting at a point, or an end on the other's interior: a crossing without a
    node. Interiors sharing a line longer than the tolerance: an overlap (exact duplicates
    are reported apart).
    """
    left, right = _touching_pairs(geoms, tolerance, block)
    matrix = shapely.relate(geoms[left], geoms[right]).astype("U9")
    chars = matrix.view("U1").reshape(-1, 9) if len(matrix) else np.empty((0, 9), "U1")
    crossing = (chars[:, 0] == "0") | (chars[:, 1] == "0") | (chars[:, 3] == "0")
    crossing &= (same_shape[left] < 0) | (same_shape[left] != same_shape[right])
    overlap = (chars[:, 0] == "1") & (
        (same_shape[left] < 0) | (same_shape[left] != same_shape[right])
    )
    if overlap.any():
        rows = np.flatnonzero(overlap)
        shared = shapely.length(shapely.intersection(geoms[left[rows]], geoms[right[rows]]))
        overlap[rows[shared <= tolerance]] = False
    for mask, rule_id, text in (
        (crossing & ~overlap, "TOPO-CROSSING", "croise sans nœud le tronçon "),
        (overlap, "TOPO-OVERLAP", "se superpose au tronçon "),
    ):
        i, j = left[mask], right[mask]
        if not len(i):
            continue
        where = shapely.get_coordinates(
            shapely.point_on_surface(_meeting_away_from_shared_ends(geoms[i], geoms[j], tolerance))
        )
        value = [f"{x:.1f} {y:.1f}" for x, y in where] if len(where) == len(i) else ""
        findings.add_frame(
            pd.DataFrame(
                {
                    "severity": "warning",
                    "rule": rule_id,
                    "file": frame["_file"].astype(str).to_numpy()[i],
                    "feature": frame["_feature"].to_numpy()[i],
                    "code": codes[i],
                    "field": "geometry",
                    "value": value,
                    "message": np.char.add(text, codes[j].astype(str)).astype(object),
                }
            )
        )
