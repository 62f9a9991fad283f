"""Read administrative boundaries (Admin Express shapefiles, GeoJSON) as reference layers."""

from __future__ import annotations

import hashlib
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

from recor.config import STORAGE_CRS
from recor.errors import ImportRefused

__all__ = [
    "CODE_FIELDS",
    "COG_FIELDS",
    "NAME_FIELDS",
    "file_sha256",
    "read_boundaries",
    "read_cog_csv",
]

#: Columns of an official geographic code file (INSEE COG with DGCL EPCI membership, as
#: published by @etalab/decoupage-administratif) → the registry's names.
COG_FIELDS: dict[str, str] = {
    "code": "code",
    "nom": "name",
    "type": "type",
    "departement": "departement",
    "chef_lieu": "parent",
    "rang_chef_lieu": "chief_town_rank",
    "population": "population",
    "epci_code": "epci_code",
    "epci_nom": "epci_name",
    "epci_type": "epci_type",
}
_COG_TYPES = ("commune-actuelle", "commune-deleguee", "commune-associee")

#: Field holding the INSEE code, by preference: france-geojson files, Admin Express 3
#: (``INSEE_COM``, ``INSEE_DEP`` ...), older Admin Express (``CODE_INSEE``).
CODE_FIELDS: dict[str, tuple[str, ...]] = {
    "communes": ("code", "INSEE_COM", "CODE_INSEE", "insee"),
    "departements": ("code", "INSEE_DEP", "CODE_DEPT", "CODE_DEP"),
    "region": ("code", "INSEE_REG", "CODE_REG"),
    "arrondissements": ("code", "INSEE_ARR", "CODE_ARR"),
    "cantons": ("code", "INSEE_CAN", "CODE_CANT"),
}
NAME_FIELDS: tuple[str, ...] = ("nom", "NOM", "NOM_M", "NOM_COM", "NOM_DEP", "NOM_REG", "name")

# In Admin Express, arrondissement and canton numbers repeat across départements.
_PREFIX_DEPARTEMENT = {"arrondissements": "INSEE_ARR", "cantons": "INSEE_CAN"}


def file_sha256(path: Path) -> str:
    """Checksum of a file (recorded with the import)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _pick(columns: list[str], candidates: tuple[str, ...], what: str, path: Path) -> str:
    lower = {c.lower(): c for c in columns}
    for name in candidates:
        if name in columns:
            return name
        if name.lower() in lower:
            return lower[name.lower()]
    raise ImportRefused(
        f"{path.name}: no {what} field; expected one of {', '.join(candidates)}"
        f" (fields found: {', '.join(columns)})"
    )


def read_boundaries(path: Path | str, kind: str, *, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a boundaries file as ``code``, ``name``, MultiPolygon geometry in EPSG:2154.

    Parameters
    ----------
    path
        GeoJSON, Shapefile, GeoPackage... (anything GDAL reads).
    kind
        ``communes``, ``departements``, ``region``, ``arrondissements`` or ``cantons``
        (chooses the code field); another kind uses a ``code`` field.

    Raises
    ------
    ImportRefused
        No CRS, no code field, empty or non-polygon features, duplicate codes.
    """
    source = Path(path)
    try:
        frame = pyogrio.read_dataframe(source, layer=layer)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
            pyogrio.errors.FieldError, pyogrio.errors.FeatureError,
            pyogrio.errors.GeometryError, OSError, UnicodeError) as exc:  # fmt: skip
        first = str(exc).strip().splitlines()
        raise ImportRefused(f"{source.name}: unreadable ({first[0] if first else exc!r})") from None
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame:
        raise ImportRefused(f"{source.name}: no geometry; expected polygons (GeoJSON, Shapefile)")
    if frame.crs is None:
        raise ImportRefused(f"{source.name}: no coordinate reference system (.prj missing?)")
    columns = [c for c in frame.columns if c != "geometry"]
    code = _pick(columns, CODE_FIELDS.get(kind, ("code",)), "code", source)
    name = _pick(columns, NAME_FIELDS, "name", source)
    codes = frame[code].astype(str)
    prefix = _PREFIX_DEPARTEMENT.get(kind)
    if prefix == code and "INSEE_DEP" in frame.columns:
        codes = frame["INSEE_DEP"].astype(str) + codes
    types = shapely.get_type_id(frame.geometry.values)
    bad = ~((types == 3) | (types == 6))
    if bad.any():
        first = int(bad.argmax())
        raise ImportRefused(
            f"{source.name} feature {first} ({code}={codes.iloc[first]}): expected a polygon,"
            f" got {frame.geometry.iloc[first].geom_type if frame.geometry.iloc[first] else None}"
        )
    if codes.duplicated().any():
        raise ImportRefused(
            f"{source.name}: code {codes[codes.duplicated()].iloc[0]!r} appears twice in {code}"
        )
    geometry = frame.geometry.to_crs(STORAGE_CRS).make_valid()
    geometry = gpd.GeoSeries(
        [_as_multipolygon(g) for g in geometry.values], crs=STORAGE_CRS, index=frame.index
    )
    return gpd.GeoDataFrame(
        {"code": codes.to_numpy(), "name": frame[name].fillna("").astype(str).to_numpy()},
        geometry=geometry,
    )


def _as_multipolygon(geometry: shapely.Geometry) -> shapely.MultiPolygon:
    """Polygonal parts only (``make_valid`` may add lines at slivers), as a MultiPolygon."""
    parts = [p for p in shapely.get_parts(geometry) if p.geom_type in ("Polygon", "MultiPolygon")]
    polygons = []
    for part in parts:
        polygons.extend(shapely.get_parts(part) if part.geom_type == "MultiPolygon" else [part])
    return shapely.MultiPolygon(polygons)


def read_cog_csv(path: Path | str) -> pd.DataFrame:
    """Read an official geographic code CSV (``cog-communes.csv``) in the registry's words.

    Raises
    ------
    ImportRefused
        A missing column, or a line whose code, type, parent or population is wrong (the
        message names the file, the line and the field).
    """
    source = Path(path)
    frame = pd.read_csv(source, dtype=str, keep_default_na=False, encoding="utf-8")
    missing = [c for c in COG_FIELDS if c not in frame.columns]
    if missing:
        raise ImportRefused(
            f"{source.name}: column {', '.join(missing)} not found"
            f" (columns found: {', '.join(frame.columns)})"
        )
    frame = frame[list(COG_FIELDS)].rename(columns=COG_FIELDS)
    frame = frame.apply(lambda column: column.str.strip()).replace("", None)
    checks = (
        ("code", ~frame["code"].fillna("").str.fullmatch(r"[0-9][0-9AB][0-9]{3}"), "an INSEE code"),
        ("nom", frame["name"].isna(), "a name"),
        ("type", ~frame["type"].isin(_COG_TYPES), "one of " + ", ".join(_COG_TYPES)),
        (
            "chef_lieu",
            (frame["type"] == "commune-actuelle") == frame["parent"].notna(),
            "the current commune of a delegated or associated one, and only then",
        ),
    )
    for column in ("population", "chief_town_rank"):
        bad = frame[column].notna() & ~frame[column].fillna("").str.fullmatch(r"[0-9]+")
        source_column = next(k for k, v in COG_FIELDS.items() if v == column)
        checks += ((source_column, bad, "a whole number or nothing"),)
    for column, bad, expected in checks:
        if bad.any():
            line = int(bad.to_numpy().argmax())
            value = frame.iloc[line][COG_FIELDS.get(column, column)]
            raise ImportRefused(
                f"{source.name} line {line + 2} (code={frame['code'].iloc[line]}):"
                f" {column} {value!r}: expected {expected}"
            )
    for column in ("population", "chief_town_rank"):
        frame[column] = pd.to_numeric(frame[column]).astype("Int64")
    return frame
