"""Readers: one delivered layer → a raw data frame with provenance, in EPSG:2154.

Attribute values arrive as the format stores them (GDAL types for Shapefile/GeoPackage,
strings for CSV); mapping onto the registry's vocabulary happens in :mod:`recor.ingest.mapping`.
Every frame carries ``_file`` (the name shown in findings) and ``_feature`` (index in the file).

This is the boundary with untrusted bytes: raw files are checked before a parser sees them
(:mod:`recor.ingest.dbf`, JSON depth and NULs, GeoPackage NULs), every parser error becomes a
finding naming the file and, when known, the feature, line or byte offset, and each chunk
read is checked for case-variant column names and control characters
(:mod:`recor.ingest.hygiene`). Nothing a file contains ends in a traceback.
"""

from __future__ import annotations

import codecs
import csv
import gc
import logging
import re
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
from pyproj.exceptions import CRSError, ProjError

from recor.config import STORAGE_CRS, ImportSettings
from recor.ingest.dbf import check_dbf
from recor.ingest.findings import Findings
from recor.ingest.hygiene import check_cells, check_column_names
from recor.ingest.limits import first_undecodable, time_is_up
from recor.ingest.rawchecks import check_geojson, check_gpkg_text
from recor.ingest.sources import LayerSource, _sibling, check_shapefile, detect_encoding

__all__ = ["RawLayer", "read_layer", "read_layer_chunks", "read_table", "to_storage_crs"]

log = logging.getLogger(__name__)

_WKT_COLUMNS = ("wkt", "geometry", "geom", "the_geom", "geometrie")
#: Python codec names as GDAL's iconv knows them (GDAL refuses "latin-1").
_GDAL_ENCODINGS = {"latin-1": "ISO-8859-1", "cp1252": "CP1252", "iso-8859-15": "ISO-8859-15"}
#: What a parser raises on bytes it cannot read (each becomes SRC-UNREADABLE).
_PARSER_ERRORS = (
    pyogrio.errors.DataSourceError,
    pyogrio.errors.DataLayerError,
    pyogrio.errors.FieldError,
    pyogrio.errors.FeatureError,
    pyogrio.errors.CRSError,
    OSError,
    UnicodeError,
    RecursionError,
    MemoryError,
    pd.errors.ParserError,
    pd.errors.EmptyDataError,
    # pyogrio 0.13's get_crs when GDAL cannot export the CRS of a damaged .prj
    UnboundLocalError,
)
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
    if encoding is None or not _raw_checks(source, encoding, findings):
        return
    total = None
    if chunk_size is not None and source.kind in {"shp", "gpkg", "geojson"}:
        try:
            with warnings.catch_warnings():  # as for the read itself (_read_ogr)
                warnings.simplefilter("ignore", RuntimeWarning)
                info = pyogrio.read_info(source.path, layer=source.layer, **_gdal(source, encoding))
            total = int(info["features"])
        except _PARSER_ERRORS as exc:
            findings.add("SRC-UNREADABLE", _first_line(exc), file=source.display)
            return
    starts = (
        [0] if total is None or total <= (chunk_size or 0) else range(0, total, chunk_size or 1)
    )
    for skip in starts:
        if time_is_up():
            findings.add(
                "SRC-TIMEOUT",
                f"temps de lecture épuisé à l'entité {skip} (RECOR_IMPORTS_MAX_READ_SECONDS)",
                file=source.display,
                feature=skip,
            )
            return
        limit = None if total is None or total <= (chunk_size or 0) else chunk_size
        layer = _read_chunk(source, encoding, findings, skip, limit, csv_geometry)
        if layer is None:
            return
        if skip == 0 and not check_column_names(layer.frame, source.display, findings):
            return
        geometry = layer.frame.geometry.name if layer.has_geometry else None
        check_cells(layer.frame, findings, skip=(geometry,) if geometry else ())
        if skip == 0 and len(layer.frame) == 0 and not allow_empty:
            findings.add("SRC-EMPTY", "la couche ne contient aucune entité", file=source.display)
        yield layer


def read_table(source: LayerSource, findings: Findings) -> pd.DataFrame | None:
    """A CSV table without geometry (e.g. a GraceTHD ``l_*.csv`` list), as strings.

    Empty cells stay ``""``. None (with findings naming the line or byte) when the file is
    not a well-formed table in its encoding, or holds control characters.
    """
    encoding = _encoding(source, findings)
    if encoding is None or not _raw_checks(source, encoding, findings):
        return None
    table = _csv_table(source, encoding, findings, keep_empty=True)
    if table is None:
        return None
    frame = table.assign(_file=source.display, _feature=np.arange(len(table)))
    check_cells(frame, findings)
    return table


def _raw_checks(source: LayerSource, encoding: str, findings: Findings) -> bool:
    """Checks of the raw file that a parser would fail on or silently get wrong."""
    settings = ImportSettings()
    if source.kind in {"shp", "dbf"}:
        table = source.path if source.kind == "dbf" else _sibling(source.path, ".dbf")
        if table is None or not check_dbf(table, source.display, encoding, findings):
            return False
        return source.kind == "dbf" or _prj_readable(source, findings)
    if source.kind == "geojson":
        return check_geojson(source.path, source.display, findings, settings.max_json_depth)
    if source.kind == "gpkg":
        return check_gpkg_text(source.path, source.layer, source.display, findings)
    if source.kind == "csv":
        bad = first_undecodable(source.path, encoding)
        if bad is not None:
            findings.add(
                "SRC-ENCODING-INVALID",
                f"octets {bad[1]!r} invalides en {encoding} (octet {bad[0]} du fichier, "
                f"ligne {_line_of(source.path, bad[0])})",
                file=source.display,
                field="octet",
                value=bad[0],
            )
            return False
    return True


def _prj_readable(source: LayerSource, findings: Findings) -> bool:
    """False (with a finding) when a ``.prj`` is present but is no CRS (GDAL trips on it)."""
    prj = _sibling(source.path, ".prj")
    if prj is None or _sidecar_crs(source.path) is not None:
        return True
    findings.add(
        "CRS-MISSING",
        f"le fichier {prj.name} ne décrit aucun système de coordonnées lisible",
        file=source.display,
        field=".prj",
    )
    return False


def _line_of(path: Path, offset: int) -> int:
    """1-based line number of a byte offset."""
    lines, done = 1, 0
    with path.open("rb") as handle:
        while done < offset and (block := handle.read(min(1 << 20, offset - done))):
            lines += block.count(b"\n")
            done += len(block)
    return lines


def _gdal(source: LayerSource, encoding: str) -> dict[str, str]:
    """The ``encoding`` keyword for GDAL, for the formats whose encoding we decide."""
    if source.kind not in {"shp", "dbf"}:
        return {}
    return {"encoding": _GDAL_ENCODINGS.get(encoding.lower(), encoding)}


def _encoding(source: LayerSource, findings: Findings) -> str | None:
    if source.kind == "shp" and not check_shapefile(source.path, source.display, findings):
        return None
    if source.kind not in {"shp", "dbf", "csv"}:
        return "UTF-8"
    table = source.path.with_suffix(".dbf") if source.kind == "shp" else source.path
    if not table.exists():
        table = source.path.with_suffix(".DBF")
    encoding, detected = detect_encoding(table)
    try:
        codecs.lookup(encoding)
    except LookupError:
        findings.add(
            "SRC-ENCODING-INVALID",
            f"encodage « {encoding} » du fichier .cpg inconnu (attendu : UTF-8, 1252, ISO-8859-1…)",
            file=source.display,
            field=".cpg",
            value=encoding,
        )
        return None
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
            read = _read_csv(source, encoding, findings, csv_geometry)
            if read is None:
                return None
            frame, crs = read
        else:
            frame, crs = _read_ogr(source, encoding, findings, skip, limit)
    except pyogrio.errors.GeometryError as exc:
        findings.add(
            "SRC-UNREADABLE", f"géométrie illisible : {_first_line(exc)}", file=source.display
        )
        return None
    except _PARSER_ERRORS as exc:
        findings.add(
            "SRC-UNREADABLE", _first_line(exc), file=source.display, feature=skip if skip else -1
        )
        return None
    frame["_file"] = source.display
    frame["_feature"] = np.arange(skip, skip + len(frame), dtype=np.int64)
    return RawLayer(source, frame, crs, encoding)


def _read_ogr(
    source: LayerSource,
    encoding: str,
    findings: Findings,
    skip: int = 0,
    limit: int | None = None,
) -> tuple[pd.DataFrame, CRS | None]:
    kwargs: dict = _gdal(source, encoding)
    if skip or limit is not None:
        kwargs.update(skip_features=skip, max_features=limit)
    with warnings.catch_warnings():
        # GDAL warns on odd but readable files (e.g. a .dbf without geometry); we check ourselves
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            frame = pyogrio.read_dataframe(source.path, layer=source.layer, **kwargs)
        except shapely.errors.GEOSException:
            frame = _read_ogr_tolerant(source, findings, skip, kwargs)
    # pyogrio leaves the read's raw columns in a reference cycle: freed now, while it is
    # young (an import pauses the cyclic collector, see pipeline.prepare_import)
    gc.collect(0)
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame:
        return frame, frame.crs
    return pd.DataFrame(frame), None


def _read_ogr_tolerant(
    source: LayerSource, findings: Findings, skip: int, kwargs: dict
) -> gpd.GeoDataFrame:
    """Read a layer with geometries GEOS refuses to build (a one-vertex line): those are None.

    Each refused geometry is an error naming its feature.
    """
    table = pyogrio.read_dataframe(source.path, layer=source.layer, read_geometry=False, **kwargs)
    meta, _, wkb, _ = pyogrio.raw.read(source.path, layer=source.layer, columns=[], **kwargs)
    geometry = shapely.from_wkb(wkb, on_invalid="ignore")
    bad = np.asarray([w is not None for w in wkb], dtype=bool) & shapely.is_missing(geometry)
    frame = gpd.GeoDataFrame(table, geometry=gpd.GeoSeries(geometry), crs=meta["crs"])
    provenance = frame.assign(_file=source.display, _feature=np.arange(skip, skip + len(frame)))
    findings.add_rows(
        provenance, bad, "GEOM-INVALID",
        "géométrie impossible à construire (ligne d'un seul sommet, anneau ouvert…)",
        field="geometry",
    )  # fmt: skip
    return frame


def _read_csv(
    source: LayerSource,
    encoding: str,
    findings: Findings,
    csv_geometry: tuple[str, ...] | None = None,
) -> tuple[pd.DataFrame, CRS | None] | None:
    table = _csv_table(source, encoding, findings)
    if table is None:
        return None
    columns = {c.lower(): c for c in table.columns}
    geometry = None
    wkt_names, xy_names = _WKT_COLUMNS, _XY_COLUMNS
    if csv_geometry is not None:
        names = tuple(n.lower() for n in csv_geometry[1:])
        wkt_names, xy_names = (names, ()) if csv_geometry[0] == "wkt" else ((), (names,))
    wkt = next((columns[c] for c in wkt_names if c in columns), None)
    if wkt is not None:
        cells = table[wkt].astype(object).where(table[wkt].notna(), None).to_numpy().copy()
        frame = table.assign(_file=source.display, _feature=np.arange(len(table)))
        deep = _wkt_depth(cells) > _MAX_WKT_DEPTH
        # GEOS parses WKT recursively: a deeply nested collection would crash the process
        message = f"WKT imbriqué sur plus de {_MAX_WKT_DEPTH} niveaux : non lu"
        findings.add_rows(frame, deep, "GEOM-NULL", message, field=wkt)
        cells[deep] = None
        geometry = shapely.from_wkt(cells, on_invalid="ignore")
        bad = table[wkt].notna().to_numpy() & shapely.is_missing(geometry) & ~deep
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


_LINE_IN_MESSAGE = re.compile(r"(?:line|row) (\d+)")
_MAX_WKT_DEPTH = 8
_MAX_ROW_FINDINGS = 100
#: Longest CSV cell read (a WKT line of many vertices is long; the csv module's default
#: limit, 128 kB, would refuse it).
_MAX_CSV_CELL = 64 << 20


def _ragged_rows(path: Path, encoding: str, sep: str, expected: int) -> list[tuple[int, int]]:
    """(line, cells) of the non-blank rows whose number of cells is not ``expected``.

    pandas pads short rows with empty cells silently; a row that lost cells is refused.
    """
    previous = csv.field_size_limit(_MAX_CSV_CELL)
    out = []
    try:
        with path.open(encoding=encoding, errors="replace", newline="") as handle:
            reader = csv.reader(handle, delimiter=sep, quotechar='"')
            next(reader, None)
            for row in reader:
                if row and len(row) != expected:
                    out.append((reader.line_num, len(row)))
                    if len(out) >= _MAX_ROW_FINDINGS:
                        break
    except csv.Error as exc:
        out.append((reader.line_num, -1))
        log.info("csv row error in %s: %s", path, exc)
    finally:
        csv.field_size_limit(previous)
    return out


def _wkt_depth(cells: np.ndarray) -> np.ndarray:
    """Deepest parenthesis nesting of each WKT cell (0 for empty ones), vectorised."""
    texts = ["" if c is None else str(c) for c in cells]
    if not texts:
        return np.zeros(0, dtype=np.int64)
    data = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
    if not len(data):
        return np.zeros(len(texts), dtype=np.int64)
    steps = (data == ord("(")).astype(np.int64) - (data == ord(")"))
    levels = np.concatenate(([0], np.cumsum(steps)))
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    peaks = np.maximum.reduceat(levels[1:], np.minimum(starts, len(data) - 1))
    depth = peaks - levels[starts]
    return np.where(lengths > 0, depth, 0)


def _csv_table(
    source: LayerSource, encoding: str, findings: Findings, *, keep_empty: bool = False
) -> pd.DataFrame | None:
    """The CSV as strings; None (with findings naming the line) when it is not a table.

    Rows with more cells than the header (pandas' error) or fewer (missing cells, told
    from empty ones by ``keep_default_na=False``) are refused with their line number.
    """
    with source.path.open(encoding=encoding, errors="replace", newline="") as handle:
        first = handle.readline()
    if not first.strip():
        findings.add("SRC-EMPTY", "fichier CSV vide (pas de ligne d'en-tête)", file=source.display)
        return None
    sep = max((";", ",", "\t", "|"), key=first.count)
    try:
        table = pd.read_csv(
            source.path, sep=sep, dtype=str, keep_default_na=False, encoding=encoding,
            quotechar='"', on_bad_lines="error",
        )  # fmt: skip
    except pd.errors.ParserError as exc:
        found = _LINE_IN_MESSAGE.search(str(exc))
        line = int(found.group(1)) if found else None
        findings.add(
            "SRC-CSV-ROW",
            f"CSV mal formé{f' ligne {line}' if line else ''} (séparateur « {sep} ») : "
            f"{_first_line(exc).removeprefix('lecture impossible : ')}",
            file=source.display,
            feature=line - 2 if line and line >= 2 else -1,
            field="ligne",
            value=line or "",
        )
        return None
    ragged = _ragged_rows(source.path, encoding, sep, len(table.columns))
    for line, cells in ragged[:_MAX_ROW_FINDINGS]:
        findings.add(
            "SRC-CSV-ROW",
            f"ligne {line} : {cells} cellule(s) au lieu des {len(table.columns)} de l'en-tête"
            if cells >= 0
            else f"ligne {line} illisible (cellule de plus de {_MAX_CSV_CELL:,} caractères)",
            file=source.display,
            feature=line - 2,
            field="ligne",
            value=line,
        )
    if ragged:
        return None
    return table if keep_empty else table.replace("", None)


def _sidecar_crs(path: Path) -> CRS | None:
    prj = _sibling(path, ".prj")
    if prj is None:
        return None
    with prj.open("rb") as handle:
        text = handle.read(64 << 10).decode("utf-8", errors="replace")
    try:
        return CRS.from_user_input(text)
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
    source = CRS(frame.crs)
    if source.equals(storage):
        return frame
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            frame = frame.to_crs(STORAGE_CRS)
    except (CRSError, ProjError) as exc:
        # A .prj that parses yet names no usable projection (a damaged parameter, say).
        findings.add(
            "CRS-INVALID",
            f"système de coordonnées {_crs_name(source)} inutilisable pour reprojeter en "
            f"EPSG:{STORAGE_CRS} ({_message_line(exc)[:200]}) : corriger le .prj ou préciser --crs",
            file=display,
            value=_crs_name(source),
        )
        return None
    findings.add(
        "CRS-REPROJECTED",
        f"reprojeté de {_crs_name(source)} vers EPSG:{STORAGE_CRS}",
        file=display,
        value=_crs_name(source),
    )
    return frame


def _crs_name(crs: CRS) -> str:
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.name


def _message_line(exc: Exception) -> str:
    """The first line of an exception's message, or its type's name."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _first_line(exc: Exception) -> str:
    return f"lecture impossible : {_message_line(exc)}"
