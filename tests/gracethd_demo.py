"""The real GraceTHD demo delivery (GraceTHD-community/GraceTHD-Demo, GPL-3.0) and the minimal
fixes that make it loadable, applied to a copy (documented in docs/import.md, "Worked example:
the GraceTHD demo delivery").

Fixes, in order (with the profile ``gis_data/profiles/gracethd-demo01.yaml``, which checks at
AVP and sets ``thresholds: {ct_1_cbcapamin: 1}`` for the 26 one-fibre drop cables):

1. ``cm_avct``/``cb_avct`` and every other empty ``*_avct`` (progress, mandatory at AVP): set to
   ``C`` (« à créer »), what an AVP (draft-phase) delivery describes.
2. Cheminement ends: an end with no node code, or farther than 1 m from its declared node,
   takes the code of the node nearest to the *drawn* end (within 5 m) and its end vertex is
   moved onto that node (``CM000180032599``, both ends).
3. Cable ends ``cb_nd1``/``cb_nd2`` (mandatory from AVP) are empty: taken from the nodes at
   the ends of the cable's drawn line (``t_cableline``), else of its cheminements (through
   ``t_cab_cond`` and ``t_cond_chem``). The one cable with neither (``CB001800302571``)
   cannot be placed and is removed, with the rows that refer to it or to its fibres.

The fixed copy is still refused for the mandatory values the delivery does not have.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
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


def _csv(folder: Path, table: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{table}.csv", sep=";", dtype=str, keep_default_na=False)


def _write_csv(frame: pd.DataFrame, folder: Path, table: str) -> None:
    frame.to_csv(folder / f"{table}.csv", sep=";", index=False)


def fix_demo(folder: Path) -> Path:
    """Extract the demo zip into ``folder`` and apply the documented fixes; returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(demo_zip()) as archive:
        archive.extractall(folder)
    nodes = pyogrio.read_dataframe(folder / "t_noeud.shp")
    _fix_cheminements(folder, nodes)
    _fix_cables(folder, nodes)
    _fix_progress(folder)
    return folder


def _nearest_node(nodes, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    tree = shapely.STRtree(nodes.geometry.to_numpy())
    (_, index), distance = tree.query_nearest(points, return_distance=True, all_matches=False)
    return nodes["nd_code"].to_numpy()[index], distance


def _fix_cheminements(folder: Path, nodes) -> None:
    path = folder / "t_cheminement.shp"
    paths = pyogrio.read_dataframe(path)
    paths["cm_avct"] = paths["cm_avct"].fillna("").replace("", "C")
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


def _fix_cables(folder: Path, nodes) -> None:
    cables = _csv(folder, "t_cable")
    ends = _cable_ends(folder, nodes)
    unplaced = set(cables.loc[~cables["cb_code"].isin(ends) & (cables["cb_nd1"] == ""), "cb_code"])
    fibres = _csv(folder, "t_fibre")
    gone = set(fibres.loc[fibres["fo_cb_code"].isin(unplaced), "fo_code"])
    for csv in folder.glob("t_*.csv"):
        table = _csv(folder, csv.stem)
        keep = np.ones(len(table), dtype=bool)
        for column in table.columns:
            if column.endswith("_cb_code") or column == "cb_code":
                keep &= ~table[column].isin(unplaced).to_numpy()
            if column in ("ps_1", "ps_2", "rt_fo_code") or column.endswith("_fo_code"):
                keep &= ~table[column].isin(gone).to_numpy()
        if not keep.all():
            _write_csv(table[keep], folder, csv.stem)
    cables = _csv(folder, "t_cable")
    for column, side in (("cb_nd1", 0), ("cb_nd2", 1)):
        found = cables["cb_code"].map(lambda code, s=side: ends.get(code, ("", ""))[s])
        cables[column] = cables[column].where(cables[column] != "", found)
    _write_csv(cables, folder, "t_cable")


def _fix_progress(folder: Path) -> None:
    """Every empty ``*_avct`` of the CSV tables: ``C`` (« à créer »)."""
    for csv in folder.glob("t_*.csv"):
        table = _csv(folder, csv.stem)
        columns = [c for c in table.columns if c.endswith("_avct")]
        if columns:
            table[columns] = table[columns].replace("", "C")
            _write_csv(table, folder, csv.stem)


def _cable_ends(folder: Path, nodes) -> dict[str, tuple[str, str]]:
    """Per cable, the nodes at the ends of its drawn line, else of its cheminements' chain."""
    ends: dict[str, tuple[str, str]] = {}
    lines = pyogrio.read_dataframe(folder / "t_cableline.shp")
    if len(lines):
        geoms = lines.geometry.to_numpy()
        first, d1 = _nearest_node(nodes, shapely.get_point(geoms, 0))
        last, d2 = _nearest_node(nodes, shapely.get_point(geoms, -1))
        for code, a, b, ok in zip(lines["cl_cb_code"], first, last, (d1 <= 1) & (d2 <= 1),
                                  strict=True):  # fmt: skip
            if ok:
                ends[code] = (a, b)
    paths = pyogrio.read_dataframe(folder / "t_cheminement.shp", read_geometry=False)
    chain = (
        _csv(folder, "t_cab_cond")
        .merge(_csv(folder, "t_cond_chem"), left_on="cc_cd_code", right_on="dm_cd_code")
        .merge(paths, left_on="dm_cm_code", right_on="cm_code")
    )
    for code, rows in chain.groupby("cc_cb_code"):
        if code in ends:
            continue
        degree = pd.concat([rows["cm_ndcode1"], rows["cm_ndcode2"]]).value_counts()
        tips = sorted(degree[degree == 1].index)
        if len(tips) == 2:
            ends[code] = (tips[0], tips[1])
    return ends
