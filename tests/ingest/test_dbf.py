"""The raw ``.dbf`` checks: a clean block is told at once, a doubtful one cell by cell."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely

from recor.ingest.dbf import check_dbf, read_dbf_header
from recor.ingest.findings import Findings


def _table(tmp_path: Path, encoding: str, a: list[str], b: list[str]) -> tuple[Path, bytearray]:
    frame = gpd.GeoDataFrame(
        {"a": a, "b": b}, geometry=shapely.points([(0, i) for i in range(len(a))]), crs=2154
    )
    pyogrio.write_dataframe(frame, tmp_path / "t.shp", encoding=encoding)
    path = tmp_path / "t.dbf"
    return path, bytearray(path.read_bytes())


def _cell(path: Path, data: bytearray, record: int, name: str) -> int:
    """Byte offset of a cell's first byte."""
    header = read_dbf_header(path)
    assert header is not None
    field = next(f for f in header.fields if f.name == name)
    return header.header_length + record * header.record_length + field.offset


def _check(path: Path, encoding: str) -> list[tuple[str, int]]:
    findings = Findings()
    check_dbf(path, "t.shp", encoding, findings, block=2)
    frame = findings.frame()
    return sorted(zip(frame["field"], frame["feature"], strict=True))


def test_texts_with_accents_in_every_cell_are_clean(tmp_path: Path) -> None:
    path, _ = _table(tmp_path, "UTF-8", ["é", "àé", "x", "ü"], ["Orléans", "", "€", "b"])
    assert _check(path, "UTF-8") == []


def test_a_character_cut_across_two_cells_is_invalid_in_both(tmp_path: Path) -> None:
    """É is C3 A9 in UTF-8: the block decodes whole, yet neither cell decodes alone."""
    path, data = _table(tmp_path, "UTF-8", ["xx", "yy", "zz"], ["uu", "vv", "ww"])
    width = _cell(path, data, 1, "b") - _cell(path, data, 1, "a")
    data[_cell(path, data, 1, "a") + width - 1] = 0xC3
    data[_cell(path, data, 1, "b")] = 0xA9
    path.write_bytes(bytes(data))
    assert ("a", 1) in _check(path, "UTF-8")
    assert ("b", 1) in _check(path, "UTF-8")


def test_a_character_cut_across_two_records_is_invalid(tmp_path: Path) -> None:
    """The last cell of record 0 ends with C3, record 1's deletion flag is A9."""
    path, data = _table(tmp_path, "UTF-8", ["xx", "yy", "zz"], ["uu", "vv", "ww"])
    header = read_dbf_header(path)
    assert header is not None
    data[header.header_length + header.record_length - 1] = 0xC3
    data[header.header_length + header.record_length] = 0xA9
    path.write_bytes(bytes(data))
    assert ("b", 0) in _check(path, "UTF-8")


@pytest.mark.parametrize(("encoding", "byte"), [("cp1252", 0x81), ("UTF-8", 0xFF)])
def test_a_byte_the_encoding_has_not_is_found_in_its_cell(
    tmp_path: Path, encoding: str, byte: int
) -> None:
    path, data = _table(tmp_path, encoding, ["ab", "cd", "ef"], ["gh", "ij", "kl"])
    data[_cell(path, data, 2, "b") + 1] = byte
    path.write_bytes(bytes(data))
    assert _check(path, encoding) == [("b", 2)]


def test_a_nul_inside_a_text_is_found_and_trailing_ones_are_not(tmp_path: Path) -> None:
    path, data = _table(tmp_path, "UTF-8", ["abc", "d", "ef"], ["gh", "ij", "kl"])
    data[_cell(path, data, 0, "a") + 1] = 0  # a\0c: text after the NUL
    data[_cell(path, data, 1, "a") + 1] = 0  # d\0 then padding: fine
    path.write_bytes(bytes(data))
    assert _check(path, "UTF-8") == [("a", 0)]
