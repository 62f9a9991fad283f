"""Readers: one delivered layer → a raw data frame with provenance, in EPSG:2154.

Attribute values arrive as the format stores them (GDAL types for Shapefile/GeoPackage,
strings for CSV); mapping onto the registry's vocabulary happens in :mod:`recor.ingest.mapping`.
Every frame carries ``_file`` (the name shown in findings) and ``_feature`` (index in the file).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from recor.config import STORAGE_CRS
from recor.ingest.findings import Findings
from recor.ingest.sources import LayerSource, check_shapefile, detect_encoding

__all__ = ["RawLayer", "read_layer", "read_layer_chunks", "to_storage_crs"]

_WKT_COLUMNS = ("wkt", "geometry", "geom", "the_geom", "geometrie")
_XY_COLUMNS = (("x", "y"), ("lon", "lat"), ("longitude", "latitude"), ("easting", "northing"))


@dataclass
class RawLayer:
    """A layer as read: ``frame`` is a GeoDataFrame, or a DataFrame for a plain table."""

    source: LayerSource
    frame: pd.DataFrame
    crs: CRS | None
    encoding: str

    @property
    def has_geometry(self) -> bool:
        """True when the layer has a geometry column."""
        return isinstance(self.frame, gpd.GeoDataFrame) and self.frame.geometry.name in self.frame


def read_layer(
    source: LayerSource, findings: Findings, *, allow_empty: bool = False
) -> RawLayer | None:
    """Read one whole layer, or add findings and return None when it cannot be read.

    An empty layer is an error (``SRC-EMPTY``) unless ``allow_empty``: a GraceTHD delivery
    carries every table of the model, empty when unused, and its own rules say which
    tables must be filled (``GTHD-TABLE-MISSING``).
    """
    chunks = list(read_layer_chunks(source, findings, chunk_size=None, allow_empty=allow_empty))
    if not chunks:
        return None
    if len(chunks) == 1:
        return chunks[0]
    frame = pd.concat([c.frame for c in chunks], ignore_index=True)
    return RawLayer(source, frame, chunks[0].crs, chunks[0].encoding)


def read_layer_chunks(
    source: LayerSource,
    findings: Findings,
    *,
    chunk_size: int | None,
    allow_empty: bool = False,
    csv_geometry: tuple[str, ...] | None = None,
) -> Iterator[RawLayer]:
    """Read a layer in chunks of ``chunk_size`` features (all at once when None).

    Chunks keep the features' indexes in the file (``_feature``), so findings point at the
    right feature; memory stays bounded by the chunk, not the layer. ``csv_geometry`` names
    a CSV's geometry columns (``("wkt", COL)`` or ``("xy", X, Y)``) instead of guessing them.
    """
    encoding = _encoding(source, findings)
    if encoding is None:
        return
    total = None
    if chunk_size is not None and source.kind in {"shp", "gpkg", "geojson"}:
        try:
            total = int(pyogrio.read_info(source.path, layer=source.layer)["features"])
        except (pyogrio.errors.DataSourceError, OSError) as exc:
            findings.add("SRC-UNREADABLE", _first_line(exc), file=source.display)
            return
    starts = (
        [0] if total is None or total <= (chunk_size or 0) else range(0, total, chunk_size or 1)
    )
    for skip in starts:
        limit = None if total is None or total <= (chunk_size or 0) else chunk_size
        layer = _read_chunk(source, encoding, findings, skip, limit, csv_geometry)
        if layer is None:
            return
        if skip == 0 and len(layer.frame) == 0 and not allow_empty:
            findings.add("SRC-EMPTY", "la couche ne contient aucune entité", file=source.display)
        yield layer


def _encoding(source: LayerSource, findings: Findings) -> str | None:
    if source.kind == "shp" and not check_shapefile(source.path, source.display, findings):
        return None
    if source.kind not in {"shp", "dbf", "csv"}:
        return "UTF-8"
    table = source.path.with_suffix(".dbf") if source.kind == "shp" else source.path
    if not table.exists():
        table = source.path.with_suffix(".DBF")
    encoding, detected = detect_encoding(table)
    if detected and encoding != "UTF-8":
        findings.add(
            "SRC-ENCODING",
            f"pas de fichier .cpg : encodage {encoding} détecté",
            file=source.display,
            value=encoding,
        )
    return encoding


def _read_chunk(
    source: LayerSource,
    encoding: str,
    findings: Findings,
    skip: int,
    limit: int | None,
    csv_geometry: tuple[str, ...] | None = None,
) -> RawLayer | None:
    try:
        if source.kind == "csv":
            frame, crs = _read_csv(source, encoding, findings, csv_geometry)
        else:
            frame, crs = _read_ogr(source, encoding, skip, limit)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.FieldError, OSError) as exc:
        findings.add("SRC-UNREADABLE", _first_line(exc), file=source.display)
        return None
    except pyogrio.errors.GeometryError as exc:
        findings.add(
            "SRC-UNREADABLE", f"géométrie illisible : {_first_line(exc)}", file=source.display
        )
        return None
    frame["_file"] = source.display
    frame["_feature"] = np.arange(skip, skip + len(frame), dtype=np.int64)
    return RawLayer(source, frame, crs, encoding)


def _read_ogr(
    source: LayerSource, encoding: str, skip: int = 0, limit: int | None = None
) -> tuple[pd.DataFrame, CRS | None]:
    kwargs: dict = {"encoding": encoding} if source.kind in {"shp", "dbf"} else {}
    if skip or limit is not None:
        kwargs.update(skip_features=skip, max_features=limit)
    with warnings.catch_warnings():
        # GDAL warns on odd but readable files (e.g. a .dbf without geometry); we check ourselves
        warnings.simplefilter("ignore", RuntimeWarning)
        frame = pyogrio.read_dataframe(source.path, layer=source.layer, **kwargs)
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame:
        return frame, frame.crs
    return pd.DataFrame(frame), None


def _read_csv(
    source: LayerSource,
    encoding: str,
    findings: Findings,
    csv_geometry: tuple[str, ...] | None = None,
) -> tuple[pd.DataFrame, CRS | None]:
    with source.path.open(encoding=encoding, errors="replace") as handle:
        first = handle.readline()
    sep = max((";", ",", "\t", "|"), key=first.count)
    table = pd.read_csv(
        source.path, sep=sep, dtype=str, keep_default_na=False, encoding=encoding, quotechar='"'
    )
    table = table.replace("", None)
    columns = {c.lower(): c for c in table.columns}
    geometry = None
    wkt_names, xy_names = _WKT_COLUMNS, _XY_COLUMNS
    if csv_geometry is not None:
        names = tuple(n.lower() for n in csv_geometry[1:])
        wkt_names, xy_names = (names, ()) if csv_geometry[0] == "wkt" else ((), (names,))
    wkt = next((columns[c] for c in wkt_names if c in columns), None)
    if wkt is not None:
        geometry = shapely.from_wkt(table[wkt].to_numpy(dtype=object), on_invalid="ignore")
        bad = table[wkt].notna().to_numpy() & shapely.is_missing(geometry)
        frame = table.assign(_file=source.display, _feature=np.arange(len(table)))
        findings.add_rows(frame, bad, "GEOM-NULL", "WKT illisible", field=wkt)
        table = table.drop(columns=wkt)
    else:
        pair = next(
            ((columns[x], columns[y]) for x, y in xy_names if x in columns and y in columns),
            None,
        )
        if pair is not None:
            x = pd.to_numeric(table[pair[0]].str.replace(",", ".", regex=False), errors="coerce")
            y = pd.to_numeric(table[pair[1]].str.replace(",", ".", regex=False), errors="coerce")
            geometry = shapely.points(x.to_numpy(), y.to_numpy())
            geometry[~(np.isfinite(x) & np.isfinite(y)).to_numpy()] = None
            frame = table.assign(_file=source.display, _feature=np.arange(len(table)))
            for column, number in zip(pair, (x, y), strict=True):
                bad = (table[column].notna() & ~np.isfinite(number)).to_numpy()
                findings.add_rows(frame, bad, "GEOM-NULL", "coordonnée illisible", field=column)
            table = table.drop(columns=list(pair))
    crs = _sidecar_crs(source.path)
    if geometry is None:
        return table, None
    return gpd.GeoDataFrame(table, geometry=gpd.GeoSeries(geometry), crs=crs), crs


def _sidecar_crs(path: Path) -> CRS | None:
    prj = path.with_suffix(".prj")
    if not prj.exists():
        return None
    try:
        return CRS.from_user_input(prj.read_text(encoding="utf-8", errors="replace"))
    except CRSError:
        return None


def to_storage_crs(
    layer: RawLayer, findings: Findings, *, override: CRS | None = None
) -> gpd.GeoDataFrame | None:
    """The layer's features in EPSG:2154, or None when its CRS is unknown (an error is added).

    ``override`` (``--crs``) gives the CRS of a layer that declares none, and replaces a
    declared one with a warning (the user knows the ``.prj`` is wrong).
    """
    frame = layer.frame
    assert isinstance(frame, gpd.GeoDataFrame)
    declared = layer.crs
    display = layer.source.display
    if override is not None:
        if declared is not None and not declared.equals(override):
            findings.add(
                "CRS-OVERRIDE",
                f"CRS déclaré {_crs_name(declared)} remplacé par {_crs_name(override)} (--crs)",
                file=display,
                value=_crs_name(declared),
            )
        frame = frame.set_crs(override, allow_override=True)
    elif declared is None:
        findings.add(
            "CRS-MISSING",
            "aucun système de coordonnées (.prj ou métadonnées) : préciser --crs EPSG",
            file=display,
        )
        return None
    storage = CRS.from_epsg(STORAGE_CRS)
    if not CRS(frame.crs).equals(storage):
        findings.add(
            "CRS-REPROJECTED",
            f"reprojeté de {_crs_name(CRS(frame.crs))} vers EPSG:{STORAGE_CRS}",
            file=display,
            value=_crs_name(CRS(frame.crs)),
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            frame = frame.to_crs(STORAGE_CRS)
    return frame


def _crs_name(crs: CRS) -> str:
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.name


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"lecture impossible : {text[0] if text else type(exc).__name__}"
