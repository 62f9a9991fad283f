"""Write a GraceTHD v2.0.1 exchange set (shapefiles, ``;`` CSV, code lists) from the registry.

The tables kept with the import batches (:func:`recor.registry.read_gracethd_tables`) are
written back as delivered, with the registry's current geometry for nodes and cheminements;
registry sites and segments that no GraceTHD delivery brought become minimal ``t_noeud`` /
``t_cheminement`` rows (their other attributes are unknown and left empty). An area keeps
the spatial rows it intersects and, by the model's references, what depends on them only.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from recor.config import STORAGE_CRS
from recor.ingest import gracethd_standard as std

__all__ = ["gracethd_frames", "write_gracethd"]

_NUMERIC = {"INTEGER", "BIGINT", "NUMERIC"}


def gracethd_frames(
    kept: Mapping[str, pd.DataFrame],
    sites: gpd.GeoDataFrame,
    segments: gpd.GeoDataFrame,
    *,
    area: BaseGeometry | None = None,
) -> dict[str, pd.DataFrame]:
    """The 33 tables to write: kept tables, registry geometry, sites/segments not yet in them.

    Parameters
    ----------
    kept
        Current version of each kept GraceTHD table (text values, ``geometry``).
    sites, segments
        Active registry sites and segments (EPSG:2154), as of the export's time.
    area
        Keep only what intersects this polygon (EPSG:2154), and what depends on it.
    """
    tables = {name: pd.DataFrame(frame).copy() for name, frame in kept.items()}
    # Nodes carrying no segment are not registry sites: they stay as delivered. A
    # cheminement the registry no longer has active was retired: it is left out.
    tables["t_noeud"] = _with_registry(
        tables.get("t_noeud"), "nd_code", sites, {"nd_nom": "name"}, keep_unknown=True
    )
    tables["t_cheminement"] = _with_registry(
        tables.get("t_cheminement"), "cm_code", segments,
        {"cm_ndcode1": "site_a", "cm_ndcode2": "site_b"}, keep_unknown=False,
    )  # fmt: skip
    if area is not None:
        tables = _within(tables, area)
    return tables


def _with_registry(
    frame: pd.DataFrame | None, key: str, rows: gpd.GeoDataFrame, fields: dict[str, str], *,
    keep_unknown: bool,
) -> pd.DataFrame:  # fmt: skip
    """Kept rows with the registry's geometry, then registry rows no delivery brought."""
    active = rows.set_index("code")
    if frame is None or not len(frame):
        frame = pd.DataFrame(columns=[key, *fields, "geometry"])
    known = frame[key].isin(active.index).to_numpy()
    frame = frame[known | keep_unknown].copy()
    registry_geometry = frame[key].map(active.geometry)
    frame["geometry"] = registry_geometry.where(
        registry_geometry.notna(), frame.get("geometry")
    ).to_numpy(dtype=object)
    new = active[~active.index.isin(frame[key])]
    extra = pd.DataFrame(
        {key: new.index, **{f: new[c].to_numpy(dtype=object) for f, c in fields.items()},
         "geometry": new.geometry.to_numpy(dtype=object)}
    )  # fmt: skip
    return pd.concat([frame, extra], ignore_index=True) if len(extra) else frame


def _references(table: str) -> list[std.Field]:
    return [f for f in std.fields()[table] if f.ref_table.startswith("t_") and f.ref_table != table]


def _within(tables: dict[str, pd.DataFrame], area: BaseGeometry) -> dict[str, pd.DataFrame]:
    """Rows in ``area``, rows referencing a kept row, then every row a kept row references.

    The last step keeps the set whole: what is exported resolves all its references.
    """
    graph = nx.DiGraph()
    for table in std.fields():
        graph.add_node(table)
        graph.add_edges_from((f.ref_table, table) for f in _references(table))
    order = list(nx.lexicographical_topological_sort(graph))
    keep: dict[str, np.ndarray] = {}
    for table in order:
        frame = tables.get(table)
        if frame is None:
            continue
        if "geometry" in frame:
            geoms = np.asarray(frame["geometry"].to_numpy(), dtype=object)
            keep[table] = shapely.intersects(geoms, area)
            continue
        mask = np.zeros(len(frame), dtype=bool)
        for item in _references(table):
            if item.name in frame and item.ref_table in keep:
                target = tables[item.ref_table]
                kept = set(target.loc[keep[item.ref_table], item.ref_field])
                mask |= frame[item.name].isin(kept).to_numpy()
        keep[table] = mask
    for table in reversed(order):
        if table not in keep:
            continue
        frame = tables[table]
        for item in _references(table):
            if item.name not in frame or item.ref_table not in keep:
                continue
            wanted = set(frame.loc[keep[table], item.name].dropna())
            target = tables[item.ref_table]
            keep[item.ref_table] |= target[item.ref_field].isin(wanted).to_numpy()
    return {t: tables[t][mask].reset_index(drop=True) for t, mask in keep.items()}


def write_gracethd(tables: Mapping[str, pd.DataFrame], out_dir: str | Path) -> list[Path]:
    """Write all 33 tables and every code list into ``out_dir``; returns the files written.

    Spatial tables are shapefiles (UTF-8 ``.cpg``, Lambert-93 ``.prj``) with numbers as
    numeric fields; the others ``;``-separated UTF-8 CSV; lists ``l_*.csv``
    (``code;libelle``). A table missing from ``tables`` is written empty, with its fields.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for table, fields in std.fields().items():
        frame = tables.get(table)
        names = [f.name for f in fields if not f.is_geometry]
        if frame is None or not len(frame):
            frame = pd.DataFrame(columns=names)
        columns = [n for n in names if n in frame] + [
            c for c in frame.columns if c not in names and c != "geometry"
        ]
        geometry = next((f for f in fields if f.is_geometry), None)
        if geometry is None:
            path = out / f"{table}.csv"
            frame[columns].to_csv(path, sep=";", index=False, encoding="utf-8")
            written.append(path)
            continue
        written += _write_shapefile(out, table, frame, columns, geometry.type)
    lists = std.code_lists()
    labels = std.code_labels()
    for name in sorted(lists):
        path = out / f"{name}.csv"
        pd.DataFrame(
            {
                "code": sorted(lists[name]),
                "libelle": [labels[name].get(c, "") for c in sorted(lists[name])],
            }
        ).to_csv(path, sep=";", index=False, encoding="utf-8")
        written.append(path)
    return written


def _write_shapefile(
    out: Path, table: str, frame: pd.DataFrame, columns: list[str], kind: str
) -> list[Path]:
    types = {f.name: f.type for f in std.fields()[table]}
    data = {}
    for name in columns:
        values = frame[name].astype(object).where(frame[name].notna(), None)
        if types.get(name) in _NUMERIC:
            data[name] = pd.to_numeric(values, errors="coerce").astype("float64")
        else:
            data[name] = values.astype(object)
    geoms = frame["geometry"].to_numpy(dtype=object) if "geometry" in frame else []
    shapes = gpd.GeoDataFrame(pd.DataFrame(data, columns=columns), geometry=list(geoms),
                              crs=STORAGE_CRS)  # fmt: skip
    path = out / f"{table}.shp"
    geometry_type = {"Point": "Point", "Linestring": "LineString", "MultiPolygon": "Polygon"}[kind]
    pyogrio.write_dataframe(shapes, path, encoding="UTF-8", geometry_type=geometry_type)
    prj = path.with_suffix(".prj")
    prj.write_text(CRS.from_epsg(STORAGE_CRS).to_wkt("WKT1_ESRI"), encoding="ascii")
    cpg = path.with_suffix(".cpg")
    cpg.write_text("UTF-8", encoding="ascii")
    return [path, path.with_suffix(".shx"), path.with_suffix(".dbf"), prj, cpg]
