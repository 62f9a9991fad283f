"""Compact encoding of map layers: quantised, delta-encoded coordinates and columnar attributes.

A plain GeoJSON layer of 200,000 segments is about 117 MB; this encoding is about 20 times
smaller. Coordinates are projected to WGS84, simplified to what the deepest zoom needs,
quantised to 1e-5 degree (about 1 m) and written as differences from the previous vertex of
the layer. Every integer stream is a string of base-32 variable-length digits over a 64-letter
alphabet that never needs escaping in JSON or HTML (``A-Z a-z 0-9 - _``): letters 0-31 end a
number, letters 32-63 continue it (least significant group first). Signed values are
zigzag-mapped first. The decoder is ``decodeInts`` in ``assets/recor-map.js``.

Attributes are columnar: a column with few distinct values is a dictionary plus an index
stream; strings ending in a number (``SEG-000123``) are a template plus a number stream;
anything else is a plain JSON array.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

__all__ = [
    "QUANTUM_DEG",
    "encode_column",
    "encode_columns",
    "encode_geometries",
    "encode_ints",
    "remember_geometries",
    "zigzag",
]

#: Coordinate quantum in degrees (1e-5 degree is 1.1 m north-south, 0.75 m east-west here).
QUANTUM_DEG = 1e-5

_ALPHABET = np.frombuffer(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", dtype=np.uint8
)


def zigzag(values: np.ndarray) -> np.ndarray:
    """Map signed integers to non-negative ones: 0, -1, 1, -2 ... → 0, 1, 2, 3 ..."""
    v = np.asarray(values, dtype=np.int64)
    return np.where(v < 0, -2 * v - 1, 2 * v)


def encode_ints(values: np.ndarray | list[int]) -> str:
    """Encode non-negative integers as one string of base-32 variable-length digits."""
    v = np.asarray(values, dtype=np.int64)
    if v.size == 0:
        return ""
    if (v < 0).any():
        raise ValueError("encode_ints takes non-negative integers; zigzag signed values first")
    width = max(1, (int(v.max()).bit_length() + 4) // 5)
    groups = np.empty((v.size, width), dtype=np.int64)
    rest = v.copy()
    for i in range(width):
        groups[:, i] = rest & 31
        rest >>= 5
    nbits = np.floor(np.log2(np.maximum(v, 1))).astype(np.int64) + 1
    ngroups = np.maximum(1, (nbits + 4) // 5)
    position = np.arange(width)[None, :]
    used = position < ngroups[:, None]
    continued = position < (ngroups - 1)[:, None]
    letters = _ALPHABET[groups + 32 * continued]
    return letters[used].tobytes().decode("ascii")


def _parts(geometry: shapely.Geometry) -> list[list[np.ndarray]]:
    """A geometry as a list of items, each a list of coordinate sequences (lines or rings)."""
    kind = shapely.get_type_id(geometry)
    if kind == 0:  # Point
        return [[shapely.get_coordinates(geometry)]]
    if kind in (1, 2):  # LineString, LinearRing
        return [[shapely.get_coordinates(geometry)]]
    if kind == 3:  # Polygon
        rings = [geometry.exterior, *geometry.interiors]
        return [[shapely.get_coordinates(r) for r in rings]]
    if kind in (4, 5, 6, 7):  # Multi* and collections
        out: list[list[np.ndarray]] = []
        for part in shapely.get_parts(geometry):
            out.extend(_parts(part))
        return out
    raise ValueError(f"cannot encode a geometry of type {geometry.geom_type}")


@dataclass
class _Store:
    """The quantised WGS84 vertices of an array of points or single lines, by feature.

    It holds the geometry objects themselves, so that their ids stay theirs while the
    store lives: a later array made of some of them (one status, one site kind, the
    bridges) is encoded by gathering their vertices, with no simplification or
    projection again.
    """

    key: tuple[str, float]
    values: np.ndarray
    index: pd.Index
    kind: str
    xy: np.ndarray
    starts: np.ndarray
    #: encodings already made from this store, by digest of the positions
    made: dict[bytes, dict[str, Any]] = field(default_factory=dict)


#: Stores of the arrays encoded so far (the segments and sites of a command, mostly).
_STORES: list[_Store] = []
_STORES_SIZE = 8


def _ids(values: np.ndarray) -> np.ndarray:
    return np.fromiter(map(id, values), dtype=np.uint64, count=len(values))


def encode_geometries(geometries: gpd.GeoSeries, *, tolerance_m: float = 1.0) -> dict[str, Any]:
    """Encode points, lines or polygons as :func:`_encode_geometries` (which see).

    Points and single lines are projected once: any later array of the same geometry
    objects, or of some of them (each map of ``recor map all`` splits the same segments
    and sites by status and kind), gathers the vertices already computed.
    """
    values = np.asarray(geometries.values, dtype=object)
    key = (str(geometries.crs), float(tolerance_m))
    ids = _ids(values)
    for store in _STORES:
        if store.key == key:
            positions = store.index.get_indexer(ids)
            if len(positions) and (positions >= 0).all():
                return _from_store(store, positions)
    store = _make_store(geometries, values, ids, key, tolerance_m)
    if store is None:
        return _encode_geometries(geometries, tolerance_m=tolerance_m)
    _STORES.append(store)
    del _STORES[:-_STORES_SIZE]
    return _from_store(store, np.arange(len(values)))


def remember_geometries(geometries: gpd.GeoSeries, *, tolerance_m: float = 1.0) -> None:
    """Project and keep the vertices of a whole frame before encoding parts of it."""
    values = np.asarray(geometries.values, dtype=object)
    key = (str(geometries.crs), float(tolerance_m))
    ids = _ids(values)
    for store in _STORES:
        if store.key == key and (store.index.get_indexer(ids) >= 0).all():
            return
    store = _make_store(geometries, values, ids, key, tolerance_m)
    if store is not None:
        _STORES.append(store)
        del _STORES[:-_STORES_SIZE]


def _make_store(
    geometries: gpd.GeoSeries,
    values: np.ndarray,
    ids: np.ndarray,
    key: tuple[str, float],
    tolerance_m: float,
) -> _Store | None:
    """A store of points or single lines (None for anything else, or repeated objects)."""
    if not len(values):
        return None
    types = shapely.get_type_id(values)
    if bool((types == 0).all()):
        kind = "p"
    elif bool((types == 1).all()):
        kind = "l"
    else:
        return None
    index = pd.Index(ids)
    if not index.is_unique:
        return None
    series = _projected(geometries, tolerance_m)
    projected = series.values
    counts = shapely.get_num_coordinates(projected)
    xy = shapely.get_coordinates(projected)
    q = np.rint(xy[:, ::-1] / QUANTUM_DEG).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return _Store(key, values, index, kind, q, starts)


def _from_store(store: _Store, positions: np.ndarray) -> dict[str, Any]:
    """The encoding of the features at ``positions`` of a store."""
    key = hashlib.blake2b(np.ascontiguousarray(positions, dtype=np.int64).tobytes()).digest()
    if key not in store.made:
        store.made[key] = _gathered(store, positions)
    return store.made[key]


def _gathered(store: _Store, positions: np.ndarray) -> dict[str, Any]:
    first = store.starts[positions]
    counts = store.starts[positions + 1] - first
    total = int(counts.sum())
    offsets = np.cumsum(counts) - counts
    gather = np.arange(total, dtype=np.int64) + np.repeat(first - offsets, counts)
    stream = _quantised_stream(store.xy[gather])
    if store.kind == "p":
        return {"n": len(positions), "k": "p", "c": stream}
    ones = np.ones_like(counts)
    return {
        "n": len(positions),
        "k": "l",
        "s": encode_ints(np.column_stack([ones, ones, counts]).ravel()),
        "c": stream,
    }


def _projected(geometries: gpd.GeoSeries, tolerance_m: float) -> gpd.GeoSeries:
    """Simplified by ``tolerance_m`` metres in their own (metric) CRS, then in WGS84."""
    series = geometries
    if series.crs is not None and series.crs.is_projected and tolerance_m > 0:
        simplified = shapely.simplify(series.values, tolerance_m, preserve_topology=True)
        series = gpd.GeoSeries(simplified, crs=series.crs, index=series.index)
    if series.crs is not None and series.crs.to_epsg() != 4326:
        series = series.to_crs(4326)
    return series


def _encode_geometries(geometries: gpd.GeoSeries, *, tolerance_m: float = 1.0) -> dict[str, Any]:
    """Encode points, lines or polygons (any CRS) as quantised delta streams in WGS84.

    Lines and polygons are simplified by ``tolerance_m`` metres in their own (metric) CRS
    before projection; topology of polygons is kept. A feature is a list of items (a line, a
    polygon); an item a list of sequences (the line, or the rings of the polygon).

    Returns
    -------
    dict
        ``n`` features; ``k`` the nesting: ``"p"`` points (one vertex per feature, ``c`` only),
        ``"l"`` lines/polygons with ``s`` the counts stream: per feature its item count, per
        item its sequence count, per sequence its vertex count; ``c`` the zigzag deltas of
        ``lat, lng`` pairs in units of :data:`QUANTUM_DEG`.
    """
    values = _projected(geometries, tolerance_m).values
    if len(values) and bool((shapely.get_type_id(values) == 0).all()):
        xy = shapely.get_coordinates(values)
        return {"n": len(values), "k": "p", "c": _coordinate_stream(xy)}
    counts: list[int] = []
    chunks: list[np.ndarray] = []
    for geometry in values:
        items = [] if geometry is None or geometry.is_empty else _parts(geometry)
        counts.append(len(items))
        for sequences in items:
            counts.append(len(sequences))
            for coords in sequences:
                counts.append(len(coords))
                chunks.append(coords[:, :2])
    xy = np.concatenate(chunks) if chunks else np.empty((0, 2))
    return {"n": len(values), "k": "l", "s": encode_ints(counts), "c": _coordinate_stream(xy)}


def _coordinate_stream(xy: np.ndarray) -> str:
    """``lat, lng`` pairs quantised and delta-encoded over the whole layer."""
    if len(xy) == 0:
        return ""
    return _quantised_stream(np.rint(xy[:, ::-1] / QUANTUM_DEG).astype(np.int64))


def _quantised_stream(latlng: np.ndarray) -> str:
    """Quantised ``lat, lng`` pairs (int64, shape (m, 2)) delta-encoded over the layer."""
    if len(latlng) == 0:
        return ""
    q = latlng.ravel()
    deltas = np.empty_like(q)
    deltas[:2] = q[:2]
    deltas[2:] = q[2:] - q[:-2]
    return encode_ints(zigzag(deltas))


#: Encodings of recent columns by content (the codes of the same sites and segments are
#: encoded by every map of ``recor map all``).
_COLUMNS: dict[bytes, dict[str, Any]] = {}
_COLUMNS_SIZE = 64


def encode_column(values: pd.Series) -> dict[str, Any]:
    """Encode one attribute column (see :func:`_encode_column`); same content, same result."""
    key = _content_key(values)
    if key is None:
        return _encode_column(values)
    if key not in _COLUMNS:
        _COLUMNS[key] = _encode_column(values)
        while len(_COLUMNS) > _COLUMNS_SIZE:
            del _COLUMNS[next(iter(_COLUMNS))]
    return _COLUMNS[key]


def _content_key(values: pd.Series) -> bytes | None:
    """A digest of the values and their type (None when values of mixed kinds could hash
    alike: a list and its text)."""
    inferred = pd.api.types.infer_dtype(values, skipna=True)
    if inferred.startswith("mixed"):
        return None
    try:
        rows = pd.util.hash_pandas_object(values, index=False).to_numpy()
    except TypeError:
        return None
    digest = hashlib.blake2b(rows.tobytes(), digest_size=20)
    digest.update(f"{values.dtype}|{inferred}|{len(values)}".encode())
    return digest.digest()


def _encode_column(values: pd.Series) -> dict[str, Any]:
    """Encode one attribute column in the smallest of three forms.

    Returns
    -------
    dict
        ``{"d": [distinct values], "i": index stream}`` (dictionary; no ``i`` when there is
        one value only), ``{"t": [[prefix, width]], "ti": template stream, "v": number
        stream}`` (numbered strings: prefix + number zero-padded to width; width -1 means
        the prefix is the whole value), or ``{"p": [values]}``.
    """
    plain = _plain(values)
    n = len(plain)
    codes, uniques = pd.factorize(pd.Series(plain, dtype="object"), use_na_sentinel=False)
    if n == 0 or len(uniques) <= max(16, n // 4):
        table = [_jsonable(v) for v in uniques.tolist()]
        if len(table) == 1:
            return {"d": table}
        return {"d": table, "i": encode_ints(codes)}
    numbered = _numbered(plain)
    if numbered is not None:
        return numbered
    return {"p": plain}


#: The number a value ends with (up to 15 digits; ``$`` also before a final line break).
_NUMBERED = re.compile(r"\d{1,15}$")


def _numbered(plain: list[Any]) -> dict[str, Any] | None:
    """Strings that end in digits, as templates and delta-encoded numbers (else None)."""
    if not all(isinstance(v, str) for v in plain):
        return None
    split = _split_numbers(plain)
    if split is None:
        split = _split_numbers_slowly(plain)
    prefix, number_text_width, numbers, literal = split
    width = number_text_width
    width[literal] = -1
    # templates (prefix, width) numbered in order of first appearance
    prefix_codes, _ = pd.factorize(pd.Series(prefix, dtype="object"))
    keys = prefix_codes.astype(np.int64) * (int(width.max()) + 2) + (width + 1)
    codes, firsts = pd.factorize(keys)
    if len(firsts) > max(16, len(plain) // 4):
        return None
    _, first = np.unique(codes, return_index=True)
    uniques = [(prefix[i], width[i]) for i in first.tolist()]
    # a value without a number leaves the running number as it was (delta 0)
    running = pd.Series(np.where(literal, np.nan, numbers)).ffill().fillna(0).to_numpy(np.int64)
    deltas = np.diff(running, prepend=0)
    return {
        "t": [[str(p), int(w)] for p, w in uniques],
        "ti": encode_ints(codes),
        "v": encode_ints(zigzag(deltas)),
    }


#: Longest text split by the vectorised path (longer ones are split one by one).
_SPLIT_MAX_CHARS = 64


def _split_numbers(
    plain: list[str],
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray] | None:
    """Prefix, zero-padded width (0: no leading zero), number and "no number" of each text,
    as :data:`_NUMBERED` would split them, computed on the array of characters.

    None when a text is long, not ASCII or holds a line break (then see
    :func:`_split_numbers_slowly`).
    """
    text = np.array(plain, dtype=str)
    size = text.dtype.itemsize // 4
    if size == 0 or size > _SPLIT_MAX_CHARS:
        return None
    chars = text.view(np.uint32).reshape(len(plain), size)
    if (chars >= 128).any() or (chars == 10).any():
        return None
    length = np.char.str_len(text)
    if int(length.sum()) != sum(map(len, plain)):  # a final NUL character is lost
        return None
    position = np.arange(size)[None, :]
    inside = position < length[:, None]
    digit = (chars >= 48) & (chars <= 57) & inside
    last_other = np.where(inside & ~digit, position, -1).max(axis=1)
    run = np.minimum(length - 1 - last_other, 15)
    start = length - run
    literal = run == 0
    prefix_chars = np.where(position < start[:, None], chars, 0).astype(np.uint32)
    prefix = np.ascontiguousarray(prefix_chars).view(text.dtype).ravel().tolist()
    in_number = (position >= start[:, None]) & inside
    power = np.where(in_number, length[:, None] - 1 - position, 0)
    numbers = (np.where(in_number, chars.astype(np.int64) - 48, 0) * 10**power).sum(axis=1)
    leading = chars[np.arange(len(plain)), np.minimum(start, size - 1)] == 48
    width = np.where(leading & ~literal, run, 0).astype(np.int64)
    return prefix, width, numbers.astype(np.int64), literal


def _split_numbers_slowly(
    plain: list[str],
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_split_numbers` with the regular expression, text by text."""
    # as ``^(.*?)(\d{1,15})$``: the leftmost final number, a prefix without a line break
    matches = [_NUMBERED.search(v) for v in plain]
    matches = [
        None if m is None or "\n" in v[: m.start()] else m
        for v, m in zip(plain, matches, strict=True)
    ]
    literal = np.fromiter((m is None for m in matches), dtype=bool, count=len(plain))
    prefix = [v if m is None else v[: m.start()] for v, m in zip(plain, matches, strict=True)]
    digits = ["0" if m is None else m.group() for m in matches]
    # a leading zero is kept by the width
    width = np.fromiter(
        (len(d) if d.startswith("0") else 0 for d in digits), dtype=np.int64, count=len(plain)
    )
    numbers = np.fromiter((int(d) for d in digits), dtype=np.int64, count=len(plain))
    return prefix, width, numbers, literal


def _plain(values: pd.Series) -> list[Any]:
    """The column as JSON-ready values (vectorised for numbers and text)."""
    kind = values.dtype.kind
    if kind in "iub" and values.isna().any():
        # a nullable column (Int64, boolean) with unknown values: None stays unknown
        return [None if pd.isna(v) else _jsonable(v) for v in values.tolist()]
    if kind in "iu":
        return values.astype(np.int64).tolist()
    if kind == "b":
        return values.astype(bool).tolist()
    if kind == "f":
        array = values.to_numpy(dtype=float)
        whole = np.isfinite(array) & (array == np.round(array))
        if whole.all():
            return array.astype(np.int64).tolist()
        return [None if np.isnan(x) else x for x in array.tolist()]
    if pd.api.types.infer_dtype(values, skipna=True) == "string":
        return values.astype("object").where(values.notna(), None).tolist()
    return [_jsonable(v) for v in values.tolist()]


def _jsonable(value: Any) -> Any:
    """A JSON-ready scalar: None for missing, plain Python types, text for anything else."""
    if value is None:
        return None
    if isinstance(value, float):
        return None if math.isnan(value) else (int(value) if value.is_integer() else value)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, np.floating):
        return _jsonable(float(value))
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) if value else None
    if isinstance(value, dict):
        return "; ".join(f"{k}: {v}" for k, v in value.items()) if value else None
    if pd.isna(value):
        return None
    return str(value)


def encode_columns(frame: pd.DataFrame, columns: list[str]) -> dict[str, dict[str, Any]]:
    """Encode the named columns of a frame (see :func:`encode_column`)."""
    return {name: encode_column(frame[name]) for name in columns}
