"""What a map may show: the ``internal`` level shows everything, ``public`` is publishable.

Public maps move CHATON nodes (often a volunteer's home) to the centre of a coarse grid
cell and cut the segments reaching them at the edge of that cell, so that neither the
symbol nor the line ends give the address away; they leave out chambers and junctions
(duct and chamber detail) and keep only the attributes listed in :data:`PUBLIC_FIELDS`.
"""

from __future__ import annotations

from typing import Literal

import geopandas as gpd
import numpy as np
import shapely

from recor.domain import SiteKind

__all__ = ["LEVELS", "PUBLIC_FIELDS", "Level", "publishable"]

Level = Literal["internal", "public"]
LEVELS: tuple[str, ...] = ("internal", "public")

#: Attributes kept on public maps (everything else is internal).
PUBLIC_FIELDS: dict[str, tuple[str, ...]] = {
    "sites": ("name", "kind", "operator", "status"),
    "segments": ("status", "fibre_count", "length_m", "owner", "operator"),
}

_HIDDEN_SITE_KINDS = (SiteKind.CHAMBER, SiteKind.JUNCTION)


def publishable(
    sites: gpd.GeoDataFrame, segments: gpd.GeoDataFrame, *, coarsen_m: float
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Sites and segments reduced to what a public map may show (inputs are not changed).

    Parameters
    ----------
    sites, segments
        Registry frames (EPSG:2154).
    coarsen_m
        Size of the grid cell a CHATON node is moved to the centre of.

    Returns
    -------
    tuple of GeoDataFrame
        Sites without chambers/junctions, CHATON nodes moved and unnamed; segments cut at
        the edge of the CHATON cells; only :data:`PUBLIC_FIELDS` columns kept.
    """
    kept = sites[~sites["kind"].isin(_HIDDEN_SITE_KINDS)].copy()
    chaton = (kept["kind"] == SiteKind.CHATON).to_numpy()
    xy = shapely.get_coordinates(kept.geometry.values)
    cells = np.floor(xy / coarsen_m)
    centres = (cells + 0.5) * coarsen_m
    xy[chaton] = centres[chaton]
    kept = kept.set_geometry(gpd.GeoSeries(shapely.points(xy), crs=kept.crs, index=kept.index))
    kept.loc[chaton, "name"] = "Nœud CHATON"
    boxes = shapely.box(
        cells[chaton, 0] * coarsen_m,
        cells[chaton, 1] * coarsen_m,
        (cells[chaton, 0] + 1) * coarsen_m,
        (cells[chaton, 1] + 1) * coarsen_m,
    )
    lines = segments.copy()
    if len(boxes):
        hidden = shapely.union_all(boxes)
        touching = lines.geometry.intersects(hidden).to_numpy()
        lines.loc[touching, "geometry"] = lines.geometry[touching].difference(hidden)
        lines = lines[~lines.geometry.is_empty]
    site_cols = [c for c in PUBLIC_FIELDS["sites"] if c in kept.columns]
    segment_cols = [c for c in PUBLIC_FIELDS["segments"] if c in lines.columns]
    return (
        gpd.GeoDataFrame(kept[site_cols], geometry=kept.geometry, crs=kept.crs),
        gpd.GeoDataFrame(lines[segment_cols], geometry=lines.geometry, crs=lines.crs),
    )
