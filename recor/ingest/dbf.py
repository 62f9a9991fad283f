"""dBASE tables (a Shapefile's ``.dbf``) checked byte by byte before GDAL reads them.

GDAL reads a truncated table as an error in the middle of a read, a byte invalid in the
table's encoding as a Python ``UnicodeDecodeError``, and a NUL inside a text as the end of
that text (``A\\0B`` becomes ``A``). Each is found here first, vectorised over blocks of
records, and reported with the record (the feature), the field, the byte offset and value.
"""

from __future__ import annotations

import codecs
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recor.ingest.findings import Findings
from recor.ingest.limits import time_is_up

__all__ = ["DbfField", "DbfHeader", "check_dbf", "read_dbf_header"]

_MAX_FINDINGS = 100
#: Codecs that decode each byte on its own: a block that decodes whole decodes cell by cell.
_SINGLE_BYTE = frozenset(
    {"cp1252", "iso8859-1", "iso8859-15", "cp850", "cp437", "cp1250", "iso8859-2"}
)


@dataclass(frozen=True)
class DbfField:
    """One column of a dBASE table: name, type letter, offset in the record, width."""

    name: str
    kind: str
    offset: int
    width: int


@dataclass(frozen=True)
class DbfHeader:
    """What a dBASE header declares."""

    records: int
    header_length: int
    record_length: int
    fields: tuple[DbfField, ...]

    @property
    def expected_size(self) -> int:
        """Bytes the declared records need (the end-of-file marker is optional)."""
        return self.header_length + self.records * self.record_length


def read_dbf_header(path: Path) -> DbfHeader | None:
    """The header of a dBASE table, or None when it is not one (too short, inconsistent)."""
    with path.open("rb") as handle:
        head = handle.read(32)
        if len(head) < 32:
            return None
        records, header_length, record_length = struct.unpack("<IHH", head[4:12])
        if header_length < 33 or record_length < 1:
            return None
        raw = handle.read(header_length - 32)
    fields, offset = [], 1  # byte 0 of each record is the deletion flag
    for start in range(0, len(raw) - 31, 32):
        block = raw[start : start + 32]
        if block[0] == 0x0D:
            break
        name = block[:11].split(b"\x00", 1)[0].decode("ascii", errors="replace")
        width = block[16]
        fields.append(DbfField(name, chr(block[11]), offset, width))
        offset += width
    if offset > record_length:
        return None
    return DbfHeader(records, header_length, record_length, tuple(fields))


def check_dbf(
    path: Path, display: str, encoding: str, findings: Findings, *, block: int = 65_536
) -> bool:
    """Check a table's length, text encoding and NULs; False when it must not be read.

    Parameters
    ----------
    path
        The ``.dbf``.
    display
        The layer's name in findings (the ``.shp`` for a Shapefile).
    encoding
        The Python codec its texts are in (from the ``.cpg`` or detected).
    block
        Records checked at a time (memory: ``block`` × record length bytes).
    """
    header = read_dbf_header(path)
    if header is None:
        findings.add("SRC-SHP-TRUNCATED", "en-tête .dbf absent ou invalide", file=display)
        return False
    size = path.stat().st_size
    if size < header.expected_size:
        complete = max(size - header.header_length, 0) // header.record_length
        findings.add(
            "SRC-SHP-TRUNCATED",
            f"fichier .dbf tronqué : {size} octets au lieu de {header.expected_size} annoncés "
            f"({header.records} enregistrements) ; l'entité {complete} est la première incomplète",
            file=display,
            feature=complete,
            field="octet",
            value=size,
        )
        return False
    texts = [f for f in header.fields if f.kind in "CM" and f.width > 0]
    if not texts:
        return True
    problems = 0
    with path.open("rb") as handle:
        for first in range(0, header.records, block):
            if time_is_up():
                findings.add("SRC-TIMEOUT", "temps de lecture épuisé", file=display)
                return False
            count = min(block, header.records - first)
            handle.seek(header.header_length + first * header.record_length)
            data = handle.read(count * header.record_length)
            rows = np.frombuffer(data, dtype=np.uint8).reshape(count, header.record_length)
            # the clean block, by far the common case, is told by two scans of its bytes
            nul_free = b"\x00" not in data
            decodes = _cells_decode(rows, data, texts, encoding)
            for spec in texts:
                cells = rows[:, spec.offset : spec.offset + spec.width]
                if not nul_free:
                    problems += _nul_inside(cells, first, spec, header, display, encoding, findings)
                if not decodes:
                    problems += _undecodable(
                        cells, first, spec, header, display, encoding, findings
                    )
                if problems >= _MAX_FINDINGS:
                    return False
    return problems == 0


def _cells_decode(rows: np.ndarray, data: bytes, texts: list[DbfField], encoding: str) -> bool:
    """True when the block decodes whole in ``encoding`` and so, surely, does every text cell.

    False when unsure (another multi-byte codec, a byte the block cannot decode): the
    cells are then decoded one column at a time.
    """
    name = codecs.lookup(encoding).name
    if name != "utf-8" and name not in _SINGLE_BYTE:
        return False
    if data.isascii():  # ASCII is itself in each of these codecs (and cuts no character)
        return True
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    if name != "utf-8":
        return True
    # A character cut across two cells decodes whole but not cell by cell: none may begin
    # with a continuation byte or be followed by one (after a record: the next one's flag).
    following = np.append(rows[1:, 0], 0x20)
    for spec in texts:
        end = spec.offset + spec.width
        after = rows[:, end] if end < rows.shape[1] else following
        if ((rows[:, spec.offset] & 0xC0) == 0x80).any() or ((after & 0xC0) == 0x80).any():
            return False
    return True


def _offset(header: DbfHeader, record: int, spec: DbfField, column: int = 0) -> int:
    return header.header_length + record * header.record_length + spec.offset + column


def _nul_inside(
    cells: np.ndarray,
    first: int,
    spec: DbfField,
    header: DbfHeader,
    display: str,
    encoding: str,
    findings: Findings,
) -> int:
    """Cells with text after a NUL (trailing NUL padding is how some writers fill fields)."""
    nul = cells == 0
    candidates = np.flatnonzero(nul.any(axis=1))
    if not len(candidates):
        return 0
    some = nul[candidates]
    text_after = np.logical_or.accumulate(some, axis=1) & ~some & (cells[candidates] != 0x20)
    bad = candidates[text_after.any(axis=1)]
    for row in bad[:_MAX_FINDINGS]:
        column = int(np.argmax(nul[row]))
        value = bytes(cells[row]).decode(encoding, errors="replace").rstrip().replace("\x00", "\\0")
        findings.add(
            "ATTR-CONTROL-CHAR",
            f"caractère NUL au milieu du texte (octet {_offset(header, first + row, spec, column)})"
            " : le texte serait tronqué",
            file=display,
            feature=first + int(row),
            field=spec.name,
            value=value,
        )
    return len(bad)


def _undecodable(
    cells: np.ndarray,
    first: int,
    spec: DbfField,
    header: DbfHeader,
    display: str,
    encoding: str,
    findings: Findings,
) -> int:
    """Cells whose bytes are not valid in ``encoding`` (a byte flip in a UTF-8 table)."""
    if encoding.lower().replace("_", "-") in {"latin-1", "iso-8859-1", "latin1"}:
        return 0  # every byte is a Latin-1 character
    joined = cells.tobytes()
    try:
        joined.decode(encoding)
        return 0
    except UnicodeDecodeError:
        pass
    found = 0
    for row in range(len(cells)):
        raw = cells[row].tobytes()
        try:
            raw.decode(encoding)
        except UnicodeDecodeError as exc:
            findings.add(
                "SRC-ENCODING-INVALID",
                f"octets {raw[exc.start : exc.end]!r} invalides en {encoding} "
                f"(octet {_offset(header, first + row, spec, exc.start)} du fichier)",
                file=display,
                feature=first + row,
                field=spec.name,
                value=raw.decode(encoding, errors="replace").rstrip(" \x00"),
            )
            found += 1
            if found >= _MAX_FINDINGS:
                break
    return found
