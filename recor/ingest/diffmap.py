"""A small map of what a load changes, as inline SVG for the import report.

Delivered segments drawn by outcome (added, changed, unchanged) and by error when the
delivery was refused; at most ``limit`` segments, added/changed/erroneous ones first, each
simplified to the map's resolution. No tiles, no script: the report stays one offline file.
"""

from __future__ import annotations

import html

import geopandas as gpd
import numpy as np
import shapely

__all__ = ["CHANGE_COLOURS", "diff_map_svg"]

#: Outcome → (colour, French label).
CHANGE_COLOURS: dict[str, tuple[str, str]] = {
    "error": ("#b00020", "en erreur"),
    "added": ("#1a9641", "ajouté"),
    "changed": ("#e66101", "modifié"),
    "unchanged": ("#9e9e9e", "inchangé"),
}


def diff_map_svg(
    segments: gpd.GeoDataFrame,
    *,
    added: list[str] | None = None,
    changed: list[str] | None = None,
    erroneous: list[str] | None = None,
    width: int = 900,
    limit: int = 5000,
) -> str:
    """Segments coloured by what the load does to them, as an ``<svg>`` element.

    Parameters
    ----------
    segments
        Delivered segments (``code``, LineString geometry, EPSG:2154).
    added, changed, erroneous
        Codes by outcome; every other segment is drawn as unchanged.
    width
        Width of the drawing in pixels (height follows the extent).
    limit
        At most this many segments are drawn, the ones that change first.
    """
    lines = np.asarray(segments.geometry.array, dtype=object)
    usable = ~shapely.is_missing(lines)
    if not usable.any():
        return ""
    codes = segments["code"].astype(str).to_numpy()
    outcome = np.full(len(codes), "unchanged", dtype=object)
    for name, chosen in (("added", added), ("changed", changed), ("error", erroneous)):
        if chosen:
            outcome[np.isin(codes, list(chosen))] = name
    priority = np.select(
        [outcome == "error", outcome == "added", outcome == "changed"], [0, 1, 2], 3
    )
    rows = np.flatnonzero(usable)
    rows = rows[np.argsort(priority[rows], kind="stable")][:limit]
    xmin, ymin, xmax, ymax = shapely.total_bounds(lines[usable])
    span = max(xmax - xmin, ymax - ymin, 1.0)
    pad = 4  # pixels: lines on the extent's edge would otherwise be cut by half their width
    scale = (width - 2 * pad) / span
    height = max(int((ymax - ymin) * scale) + 2 * pad, 50)
    simplified = shapely.simplify(lines[rows], 1.0 / scale)
    coords, index = shapely.get_coordinates(simplified, return_index=True)
    px = np.round((coords[:, 0] - xmin) * scale + pad, 1)
    py = np.round((ymax - coords[:, 1]) * scale + pad, 1)
    points = np.char.add(np.char.add(px.astype(str), ","), py.astype(str))
    bounds = np.searchsorted(index, np.arange(len(rows) + 1))
    paths = []
    for k, row in enumerate(rows[::-1]):  # most important drawn last, on top
        j = len(rows) - 1 - k
        colour = CHANGE_COLOURS[outcome[row]][0]
        path = " ".join(points[bounds[j] : bounds[j + 1]])
        paths.append(
            f"<polyline points='{path}' stroke='{colour}' fill='none' stroke-width='1.5'>"
            f"<title>{html.escape(codes[row])} ({CHANGE_COLOURS[outcome[row]][1]})</title>"
            "</polyline>"
        )
    legend = " ".join(
        f"<tspan fill='{c}'>■ {label}</tspan>" for c, label in CHANGE_COLOURS.values()
    )
    note = f" — {len(rows)} tronçons sur {int(usable.sum())}" if len(rows) < usable.sum() else ""
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height + 24}' "
        f"viewBox='0 -24 {width} {height + 24}' role='img' aria-label='Carte des changements'>"
        f"<text x='0' y='-8' font-size='13'>{legend}{html.escape(note)}</text>"
        + "".join(paths)
        + "</svg>"
    )
