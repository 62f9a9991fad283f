"""The real GraceTHD demo delivery (GraceTHD-community/GraceTHD-Demo, GPL-3.0) and the minimal
fix that makes it loadable, applied to a copy (documented in docs/import.md, "Worked example:
the GraceTHD demo delivery").

The one fix: a cheminement end with no node code, or farther than 1 m from its declared node,
takes the code of the node nearest to the *drawn* end (within 5 m) and its end vertex is moved
onto that node (``CM000180032599``, both ends): a segment the registry cannot place otherwise.
Nothing else is changed. The profile ``gis_data/profiles/gracethd-demo01.yaml`` checks at AVP,
sets ``thresholds: {ct_1_cbcapamin: 1}`` for the 26 one-fibre drop cables and accepts the
delivery as a draft (``gracethd_draft``): the values mandatory at AVP that it lacks are listed
as waived warnings and stay unknown.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pyogrio
import shapely

from tests.conftest import SHARED_DATA, _shared_data_missing

__all__ = ["DEMO_ZIP", "demo_zip", "fix_demo"]

DEMO_ZIP = SHARED_DATA / "real" / "gracethd-demo01" / "AVP-DLG-R2DSPEA001-01-V1.zip"
_MAX_FIX_M = 5.0


def demo_zip() -> Path:
    """The delivered zip; fails (not skips) on CI when the shared data is missing."""
    if not DEMO_ZIP.exists():
        _shared_data_missing(f"GraceTHD demo delivery not found at {DEMO_ZIP}")
    return DEMO_ZIP


def fix_demo(folder: Path) -> Path:
    """Extract the demo zip into ``folder`` and apply the documented fix; returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(demo_zip()) as archive:
        archive.extractall(folder)
    nodes = pyogrio.read_dataframe(folder / "t_noeud.shp")
    _fix_cheminements(folder, nodes)
    return folder


def _nearest_node(nodes, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    tree = shapely.STRtree(nodes.geometry.to_numpy())
    (_, index), distance = tree.query_nearest(points, return_distance=True, all_matches=False)
    return nodes["nd_code"].to_numpy()[index], distance


def _fix_cheminements(folder: Path, nodes) -> None:
    path = folder / "t_cheminement.shp"
    paths = pyogrio.read_dataframe(path)
    located = nodes.set_index("nd_code").geometry
    lines = list(paths.geometry)
    for end, column in ((0, "cm_ndcode1"), (-1, "cm_ndcode2")):
        points = shapely.get_point(paths.geometry.to_numpy(), end)
        declared = paths[column].fillna("")
        known = declared.isin(located.index)
        gap = np.full(len(paths), np.inf)
        gap[known.to_numpy()] = shapely.distance(
            points[known.to_numpy()], located.loc[declared[known]].to_numpy()
        )
        nearest, distance = _nearest_node(nodes, points)
        wrong = (gap > 1.0) & (distance <= _MAX_FIX_M)
        for row in np.flatnonzero(wrong):
            paths.loc[paths.index[row], column] = nearest[row]
            coords = np.asarray(lines[row].coords)
            target = located.loc[nearest[row]]
            coords[end] = (target.x, target.y)
            lines[row] = shapely.LineString(coords)
    paths = paths.set_geometry(lines, crs=paths.crs)
    for column in paths.columns[paths.dtypes.astype(str).str.startswith("datetime")]:
        paths[column] = paths[column].dt.strftime("%Y-%m-%d")
    pyogrio.write_dataframe(paths, path, encoding="UTF-8")
