"""Test networks: small graphs drawn by hand, random graphs for brute-force checks."""

from __future__ import annotations

import random
from collections.abc import Sequence

import geopandas as gpd
import networkx as nx
from shapely.geometry import LineString, Point

from recor.network import build_graph

#: Origin of the drawn test networks (near Orléans, Lambert-93).
X0, Y0 = 620_000.0, 6_750_000.0

SiteSpec = tuple[float, float] | tuple[float, float, str]
SegmentSpec = tuple  # (code, a, b, length_m[, risk_groups[, free_fibres]])


def make_graph(sites: dict[str, SiteSpec], segments: Sequence[SegmentSpec]) -> nx.MultiGraph:
    """A network graph from site positions (km from the origin) and segment tuples."""
    site_rows = []
    for code, spec in sites.items():
        kind = spec[2] if len(spec) > 2 else "pop"
        site_rows.append(
            {
                "code": code,
                "name": f"Site {code}",
                "kind": kind,
                "status": "in_service",
                "geometry": Point(X0 + spec[0] * 1000, Y0 + spec[1] * 1000),
            }
        )
    sites_frame = gpd.GeoDataFrame(site_rows, geometry="geometry", crs=2154)
    where = {row["code"]: row["geometry"] for row in site_rows}
    seg_rows = []
    for spec in segments:
        code, a, b, length = spec[:4]
        groups = tuple(spec[4]) if len(spec) > 4 else ()
        free = spec[5] if len(spec) > 5 else 24
        seg_rows.append(
            {
                "code": code,
                "site_a": a,
                "site_b": b,
                "length_m": float(length),
                "fibre_count": 48,
                "fibres_used": 48 - free,
                "status": "in_service",
                "installation": "duct",
                "risk_groups": groups,
                "geometry": LineString([where[a], where[b]]),
            }
        )
    segs = gpd.GeoDataFrame(seg_rows, geometry="geometry", crs=2154)
    return build_graph(sites_frame, segs)


def random_graph(
    n: int, m: int, seed: int, *, parallel: bool = True, groups: int = 0
) -> nx.MultiGraph:
    """A connected random network: a spanning tree plus extra segments, random lengths."""
    rng = random.Random(seed)
    sites = {f"S{i}": (rng.uniform(0, 50), rng.uniform(0, 50)) for i in range(n)}
    sites["S0"] = (*sites["S0"][:2], "datacentre")
    pairs: list[tuple[str, str]] = [(f"S{i}", f"S{rng.randrange(i)}") for i in range(1, n)]
    seen = {frozenset(p) for p in pairs}
    while len(pairs) < m:
        a, b = rng.sample(range(n), 2)
        key = frozenset((f"S{a}", f"S{b}"))
        if key in seen and not parallel:
            continue
        seen.add(key)
        pairs.append((f"S{a}", f"S{b}"))
    segments = []
    for j, (a, b) in enumerate(pairs):
        grp = (f"G{rng.randrange(groups)}",) if groups and rng.random() < 0.4 else ()
        segments.append((f"E{j}", a, b, rng.randint(100, 5000), grp))
    return make_graph(sites, segments)
