"""The compact encoding decodes to the original values (decoded here as the page does)."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from recor.maps.document import embed_json
from recor.maps.encode import QUANTUM_DEG, encode_column, encode_geometries, encode_ints, zigzag

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def decode_ints(text: str) -> list[int]:
    """Python twin of ``decodeInts`` in recor-map.js."""
    out, value, scale = [], 0, 1
    for letter in text:
        digit = ALPHABET.index(letter)
        if digit >= 32:
            value += (digit - 32) * scale
            scale *= 32
        else:
            out.append(value + digit * scale)
            value, scale = 0, 1
    return out


def unzigzag(z: int) -> int:
    return -(z + 1) // 2 if z % 2 else z // 2


def decode_column(col: dict, n: int) -> list:
    if "p" in col:
        return col["p"]
    if "d" in col:
        if "i" not in col:
            return [col["d"][0]] * n
        return [col["d"][i] for i in decode_ints(col["i"])]
    number, out = 0, []
    for t, d in zip(decode_ints(col["ti"]), decode_ints(col["v"]), strict=True):
        number += unzigzag(d)
        prefix, width = col["t"][t]
        out.append(prefix if width < 0 else prefix + str(number).zfill(width))
    return out


def test_integers_round_trip_through_the_alphabet() -> None:
    values = np.array([0, 1, 31, 32, 1023, 1024, 4_750_000, 2**40])
    assert decode_ints(encode_ints(values)) == values.tolist()
    assert [unzigzag(z) for z in zigzag(np.array([0, -1, 1, -500, 500]))] == [0, -1, 1, -500, 500]


def test_lines_decode_to_their_coordinates_within_a_metre() -> None:
    lines = gpd.GeoSeries(
        [
            shapely.LineString([(600000, 6700000), (600500, 6700300), (601000, 6700000)]),
            shapely.LineString([(610000, 6710000), (610010, 6710900)]),
        ],
        crs=2154,
    )
    encoded = encode_geometries(lines, tolerance_m=0)
    counts = decode_ints(encoded["s"])
    assert counts == [1, 1, 3, 1, 1, 2]
    raw = decode_ints(encoded["c"])
    latlng = np.cumsum(np.array([unzigzag(z) for z in raw]).reshape(-1, 2), axis=0) * QUANTUM_DEG
    expected = shapely.get_coordinates(lines.to_crs(4326).values)[:, ::-1]
    assert np.abs(latlng - expected).max() <= QUANTUM_DEG / 2 + 1e-12
    assert json.dumps(encoded).count("bbox") == 0


def test_columns_round_trip_in_each_form() -> None:
    n = 200
    numbered = pd.Series([*[f"SEG-{i:06d}" for i in range(n)][::-1], "POP-ORLEANS"])
    free_text = pd.Series([f"note {i} <b>" + "x" * (i % 7) for i in range(n)] + [None])
    repeated = pd.Series(["in_service", "planned"] * (n // 2) + [None])
    numbers = pd.Series([float(i) for i in range(n)] + [np.nan])
    for series in (numbered, free_text, repeated, numbers):
        expected = [None if pd.isna(v) else v for v in series.tolist()]
        assert decode_column(encode_column(series), len(series)) == expected
    assert "t" in encode_column(numbered)
    assert "d" in encode_column(repeated)


def test_embedded_json_cannot_close_the_script_element() -> None:
    text = embed_json({"name": "</script><script>alert(1)</script>", "amp": "a&b\u2028"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"name": "</script><script>alert(1)</script>", "amp": "a&b\u2028"}
