"""Write a GraceTHD v2.0.1 exchange set (shapefiles, ``;`` CSV, code lists) from the registry.

The tables kept with the import batches (:func:`recor.registry.read_gracethd_tables`) are
written back as delivered, with the registry's current geometry for nodes and cheminements
and its current values on the fields they come from
(:mod:`recor.export.gracethd_writeback`); registry sites and segments that no GraceTHD
delivery brought become ``t_noeud`` / ``t_cheminement`` rows filled with what the registry
knows. Every reference of the set resolves. An area keeps the spatial rows it intersects
and, by the model's references, what depends on them only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from recor.config import STORAGE_CRS
from recor.export.gracethd_writeback import (
    ExportGaps,
    close_references,
    reference_order,
    references,
    registry_rows,
    write_registry_values,
)
from recor.ingest import gracethd_standard as std

__all__ = ["GracethdExport", "as_delivered", "gracethd_export", "gracethd_frames", "write_gracethd"]

_NUMERIC = {"INTEGER", "BIGINT", "NUMERIC"}


@dataclass
class GracethdExport:
    """The 33 tables to write and what the registry could not fill in them."""

    tables: dict[str, pd.DataFrame]
    gaps: ExportGaps


def gracethd_export(
    kept: Mapping[str, pd.DataFrame],
    sites: gpd.GeoDataFrame,
    segments: gpd.GeoDataFrame,
    *,
    area: BaseGeometry | None = None,
) -> GracethdExport:
    """The kept tables brought up to the registry, its own sites/segments added, closed.

    Parameters
    ----------
    kept
        Current version of each kept GraceTHD table (text values, ``geometry``).
    sites, segments
        Active registry sites and segments (EPSG:2154), as of the export's time.
    area
        Keep only what intersects this polygon (EPSG:2154), and what depends on it.

    Returns
    -------
    GracethdExport
        Tables in which every reference resolves (a row whose mandatory reference was retired
        is left out, with what depends on it), and the gaps: fields left empty or as delivered
        because the registry does not know them or the model cannot hold them.
    """
    gaps = ExportGaps()
    sites, segments = as_delivered(kept, sites, segments)
    tables = {name: pd.DataFrame(frame).copy() for name, frame in kept.items()}
    # Nodes carrying no segment are not registry sites: they stay as delivered. A
    # cheminement the registry no longer has active was retired: it is left out, and
    # close_references leaves out what needs it (its t_cond_chem rows).
    nodes = _with_registry_geometry(tables, "t_noeud", "nd_code", sites, gaps, keep_unknown=True)
    paths = _with_registry_geometry(
        tables, "t_cheminement", "cm_code", segments, gaps, keep_unknown=False
    )
    tables["t_noeud"], tables["t_cheminement"] = nodes, paths
    write_registry_values(tables, sites, segments, gaps)
    tables["t_noeud"] = _add_registry_rows(tables, "t_noeud", "nd_code", sites, gaps)
    tables["t_cheminement"] = _add_registry_rows(tables, "t_cheminement", "cm_code", segments, gaps)
    tables = close_references(tables, gaps)
    if area is not None:
        tables = _within(tables, area)
    return GracethdExport(tables, gaps)


def as_delivered(
    kept: Mapping[str, pd.DataFrame], sites: gpd.GeoDataFrame, segments: gpd.GeoDataFrame
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Sites and segments with the codes the GraceTHD delivery wrote.

    An import profile's ``code_prefix`` (kept with the table, ``attrs["code_prefix"]``) was put
    in front of every code made from ``t_noeud`` and ``t_cheminement``: it is taken off
    again, so that registry rows match their delivered rows. A code whose unprefixed form is
    also another registry row's code keeps its prefix (two rows never share a code).
    """
    site_codes = _without_prefix(sites["code"], _prefix(kept, "t_noeud"))
    renamed = dict(zip(sites["code"], site_codes, strict=True))
    segments = segments.assign(
        code=_without_prefix(segments["code"], _prefix(kept, "t_cheminement")).to_numpy(),
        site_a=segments["site_a"].map(lambda c: renamed.get(c, c)).to_numpy(),
        site_b=segments["site_b"].map(lambda c: renamed.get(c, c)).to_numpy(),
    )
    return sites.assign(code=site_codes.to_numpy()), segments


def _prefix(kept: Mapping[str, pd.DataFrame], table: str) -> str:
    frame = kept.get(table)
    return "" if frame is None else str(frame.attrs.get("code_prefix") or "")


def _without_prefix(codes: pd.Series, prefix: str) -> pd.Series:
    if not prefix:
        return codes
    text = codes.astype(str)
    stripped = text.where(~text.str.startswith(prefix), text.str.slice(len(prefix)))
    clash = stripped.ne(text) & stripped.isin(set(text))
    return text.where(clash, stripped)


def gracethd_frames(
    kept: Mapping[str, pd.DataFrame],
    sites: gpd.GeoDataFrame,
    segments: gpd.GeoDataFrame,
    *,
    area: BaseGeometry | None = None,
) -> dict[str, pd.DataFrame]:
    """The tables of :func:`gracethd_export` alone."""
    return gracethd_export(kept, sites, segments, area=area).tables


def _with_registry_geometry(
    tables: dict[str, pd.DataFrame], table: str, key: str, rows: gpd.GeoDataFrame,
    gaps: ExportGaps, *, keep_unknown: bool,
) -> pd.DataFrame:  # fmt: skip
    """Kept rows with the registry's geometry (rows it does not know: kept or left out)."""
    active = rows.set_index("code")
    frame = tables.get(table)
    if frame is None or not len(frame):
        frame = pd.DataFrame(columns=[key, "geometry"])
    known = frame[key].isin(active.index).to_numpy()
    if not keep_unknown and (~known).any():
        gaps.left_out[(table, "retiré du registre")] += int((~known).sum())
    frame = frame[known | keep_unknown].copy()
    registry_geometry = frame[key].map(active.geometry)
    frame["geometry"] = registry_geometry.where(
        registry_geometry.notna(), frame.get("geometry")
    ).to_numpy(dtype=object)
    return frame


def _add_registry_rows(
    tables: dict[str, pd.DataFrame], table: str, key: str, rows: gpd.GeoDataFrame,
    gaps: ExportGaps,
) -> pd.DataFrame:  # fmt: skip
    """The kept rows, then a row for each registry site/segment no delivery brought."""
    frame = tables[table]
    active = rows.set_index("code")
    new = active[~active.index.isin(frame[key])]
    if not len(new):
        return frame
    return pd.concat([frame, registry_rows(table, new, gaps, tables)], ignore_index=True)


def _within(tables: dict[str, pd.DataFrame], area: BaseGeometry) -> dict[str, pd.DataFrame]:
    """Rows in ``area``, rows referencing a kept row, then every row a kept row references.

    The last step keeps the set whole: what is exported resolves all its references.
    """
    order = reference_order()
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
        for item in references(table):
            if item.name in frame and item.ref_table in keep:
                target = tables[item.ref_table]
                kept = set(target.loc[keep[item.ref_table], item.ref_field])
                mask |= frame[item.name].isin(kept).to_numpy()
        keep[table] = mask
    for table in reversed(order):
        if table not in keep:
            continue
        frame = tables[table]
        for item in references(table):
            if item.name not in frame or item.ref_table not in keep:
                continue
            wanted = set(frame.loc[keep[table], item.name].dropna())
            target = tables[item.ref_table]
            keep[item.ref_table] |= target[item.ref_field].isin(wanted).to_numpy()
    return {t: tables[t][mask].reset_index(drop=True) for t, mask in keep.items()}


def write_gracethd(
    tables: Mapping[str, pd.DataFrame], out_dir: str | Path, gaps: ExportGaps | None = None
) -> list[Path]:
    """Write all 33 tables and every code list into ``out_dir``; returns the files written.

    Spatial tables are shapefiles (UTF-8 ``.cpg``, Lambert-93 ``.prj``) with numbers as
    numeric fields; the others ``;``-separated UTF-8 CSV; lists ``l_*.csv``
    (``code;libelle``). A table missing from ``tables`` is written empty, with its fields.
    With ``gaps``, a ``README.txt`` says which fields the registry left empty, per table.
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
    if gaps is not None:
        written.append(_write_readme(out, gaps))
    return written


def _write_readme(out: Path, gaps: ExportGaps) -> Path:
    lines = gaps.lines()
    text = [
        "Export GraceTHD v2.0.1 du registre RECOR.",
        "",
        "Champs laissés vides (ou tels que livrés) parce que le registre ne les connaît pas,"
        " et lignes non exportées pour que toute référence soit résolue :"
        if lines
        else "Tous les champs que le registre connaît sont écrits ; aucune lacune.",
        *(f"- {line}" for line in lines),
    ]
    path = out / "README.txt"
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    return path


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
