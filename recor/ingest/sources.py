"""Delivered files: folders and zips opened safely, layers listed, files fingerprinted.

A zip is never extracted blindly: every member name is checked first (no absolute path, no
``..``, no link) and the archive is refused whole if one is unsafe; good archives are
extracted into a private temporary folder that disappears with the :class:`DeliveryFiles`.
"""

from __future__ import annotations

import codecs
import hashlib
import stat
import struct
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import TracebackType

import pyogrio

from recor.config import ImportSettings
from recor.ingest.findings import Findings
from recor.registry.model import SourceFile

__all__ = [
    "DeliveryFiles",
    "LayerSource",
    "check_shapefile",
    "detect_encoding",
    "sha256_file",
    "unsafe_zip_members",
]

#: File extensions read as layers.
LAYER_SUFFIXES = {".shp", ".gpkg", ".geojson", ".json", ".csv", ".dbf"}
_SHP_SIDECARS = (".shx", ".dbf", ".prj", ".cpg")


@dataclass(frozen=True)
class LayerSource:
    """One layer to read: a file (maybe extracted from a zip) and, for a GeoPackage, a layer."""

    path: Path
    display: str
    name: str
    kind: str
    layer: str | None = None


@dataclass
class DeliveryFiles:
    """The layers of the delivered paths, as a context manager owning any extraction folder.

    Problems (missing file, unsafe zip) become findings rather than exceptions, so one
    report lists them all.
    """

    paths: tuple[Path, ...]
    findings: Findings = field(default_factory=Findings)
    max_unzipped_bytes: int = ImportSettings().max_unzipped_mb * 1024 * 1024
    layers: list[LayerSource] = field(default_factory=list)
    source_files: list[SourceFile] = field(default_factory=list)
    _tmp: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> DeliveryFiles:
        for path in self.paths:
            self._open(Path(path))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def _open(self, path: Path) -> None:
        if not path.exists():
            self.findings.add("SRC-NOT-FOUND", "chemin introuvable", file=str(path))
        elif path.is_dir():
            self._add_folder(path, path.name)
        elif path.suffix.lower() == ".zip":
            self._fingerprint(path, path.name)
            self._add_zip(path)
        elif path.suffix.lower() in LAYER_SUFFIXES:
            self._add_file(path, path.name, fingerprint=True)
        else:
            self.findings.add(
                "SRC-NOT-FOUND",
                "format non pris en charge (attendu : .shp, dossier, .zip, .gpkg, .geojson, .csv)",
                file=str(path),
            )

    def _add_zip(self, path: Path) -> None:
        try:
            archive = zipfile.ZipFile(path)
        except zipfile.BadZipFile as exc:
            self.findings.add("SRC-UNREADABLE", f"archive zip illisible : {exc}", file=path.name)
            return
        with archive:
            unsafe = unsafe_zip_members(archive)
            for name in unsafe:
                self.findings.add(
                    "SRC-ZIP-UNSAFE",
                    "membre refusé : chemin absolu, « .. » ou lien ; rien n'a été extrait",
                    file=path.name,
                    field="member",
                    value=name,
                )
            if unsafe:
                return
            unpacked = sum(info.file_size for info in archive.infolist())
            if unpacked > self.max_unzipped_bytes:
                self.findings.add(
                    "SRC-ZIP-TOO-LARGE",
                    f"{unpacked / 2**20:,.0f} Mo une fois décompressée, au-delà de la limite de "
                    f"{self.max_unzipped_bytes / 2**20:,.0f} Mo ; rien n'a été extrait",
                    file=path.name,
                )
                return
            if self._tmp is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="recor-import-")
            target = Path(self._tmp.name) / f"zip{len(list(Path(self._tmp.name).iterdir()))}"
            target.mkdir()
            archive.extractall(target)
        self._add_folder(target, path.name, fingerprint=False)

    def _add_folder(self, folder: Path, display: str, *, fingerprint: bool = True) -> None:
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        if fingerprint:
            for file in files:
                self._fingerprint(file, f"{display}/{file.relative_to(folder).as_posix()}")
        for file in files:
            if file.suffix.lower() not in LAYER_SUFFIXES:
                continue
            if file.suffix.lower() == ".dbf" and _sibling(file, ".shp") is not None:
                continue
            shown = f"{display}/{file.relative_to(folder).as_posix()}"
            self._add_file(file, shown, fingerprint=False)

    def _add_file(self, path: Path, display: str, *, fingerprint: bool) -> None:
        suffix = path.suffix.lower()
        if fingerprint:
            self._fingerprint(path, display)
            if suffix == ".shp":
                for sidecar in _SHP_SIDECARS:
                    other = _sibling(path, sidecar)
                    if other is not None:
                        self._fingerprint(other, other.name)
        if suffix == ".gpkg":
            try:
                names = [str(row[0]) for row in pyogrio.list_layers(path)]
            except pyogrio.errors.DataSourceError as exc:
                self.findings.add("SRC-UNREADABLE", _gdal_message(exc), file=display)
                return
            for name in names:
                self.layers.append(
                    LayerSource(path, f"{display}!{name}", name.lower(), "gpkg", name)
                )
            return
        kind = {".json": "geojson", ".geojson": "geojson"}.get(suffix, suffix.lstrip("."))
        self.layers.append(LayerSource(path, display, path.stem.lower(), kind))

    def _fingerprint(self, path: Path, display: str) -> None:
        self.source_files.append(
            SourceFile(path=display, sha256=sha256_file(path), size=path.stat().st_size)
        )


def unsafe_zip_members(archive: zipfile.ZipFile) -> list[str]:
    """Names of members that would land outside the extraction folder (or are links)."""
    unsafe = []
    for info in archive.infolist():
        name = info.filename.replace("\\", "/")
        parts = PurePosixPath(name).parts
        is_link = stat.S_ISLNK(info.external_attr >> 16)
        absolute = name.startswith("/") or (len(name) > 1 and name[1] == ":")
        if absolute or ".." in parts or is_link:
            unsafe.append(info.filename)
    return unsafe


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's content, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _sibling(path: Path, suffix: str) -> Path | None:
    """The file next to ``path`` with another suffix, whatever the case of the suffix."""
    for candidate in (path.with_suffix(suffix), path.with_suffix(suffix.upper())):
        if candidate.exists():
            return candidate
    return None


def check_shapefile(path: Path, display: str, findings: Findings) -> bool:
    """Check a shapefile's parts and lengths before GDAL reads it; False when unreadable.

    A missing ``.shx``/``.dbf`` or a ``.shp`` shorter than its header says (a truncated
    upload) are errors: GDAL would otherwise read a silently partial layer.
    """
    ok = True
    for suffix in (".shx", ".dbf"):
        if _sibling(path, suffix) is None:
            findings.add(
                "SRC-SHP-PART",
                f"le fichier {path.stem}{suffix} manque à côté de {path.name}",
                file=display,
                field=suffix,
            )
            ok = False
    if not ok:
        return False
    size = path.stat().st_size
    with path.open("rb") as handle:
        header = handle.read(100)
    if len(header) < 100 or struct.unpack(">i", header[:4])[0] != 9994:
        findings.add("SRC-SHP-TRUNCATED", "en-tête .shp absent ou invalide", file=display)
        return False
    declared = struct.unpack(">i", header[24:28])[0] * 2
    if size < declared:
        findings.add(
            "SRC-SHP-TRUNCATED",
            f"fichier .shp tronqué : {size} octets au lieu de {declared} annoncés",
            file=display,
            value=size,
        )
        return False
    shx = _sibling(path, ".shx")
    dbf = _sibling(path, ".dbf")
    assert shx is not None and dbf is not None
    shx_records = (shx.stat().st_size - 100) // 8
    with dbf.open("rb") as handle:
        dbf_header = handle.read(8)
    dbf_records = struct.unpack("<I", dbf_header[4:8])[0] if len(dbf_header) == 8 else -1
    if shx_records != dbf_records:
        findings.add(
            "SRC-SHP-TRUNCATED",
            f"{shx_records} géométries dans le .shx mais {dbf_records} lignes dans le .dbf",
            file=display,
        )
        return False
    return True


_CPG_ALIASES = {
    "utf-8": "UTF-8",
    "utf8": "UTF-8",
    "65001": "UTF-8",
    "1252": "cp1252",
    "ansi 1252": "cp1252",
    "windows-1252": "cp1252",
    "cp1252": "cp1252",
    "iso-8859-1": "latin-1",
    "iso88591": "latin-1",
    "8859_1": "latin-1",
    "latin1": "latin-1",
    "latin-1": "latin-1",
    "iso-8859-15": "iso-8859-15",
}

#: Bytes undefined in Windows-1252: seeing one means the text is Latin-1.
_UNDEFINED_CP1252 = (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")


def detect_encoding(path: Path, chunk: int = 1 << 24) -> tuple[str, bool]:
    """Encoding of a text table (``.dbf``, ``.csv``): ``(encoding, detected)``.

    A shapefile's ``.cpg`` is honoured (``detected`` False). Otherwise the bytes are decoded
    as UTF-8 in chunks; if that fails the text is Windows-1252 (the French Windows default),
    or Latin-1 when a byte undefined in Windows-1252 appears.
    """
    cpg = _sibling(path, ".cpg")
    if cpg is not None:
        declared = cpg.read_text(encoding="ascii", errors="replace").strip()
        return _CPG_ALIASES.get(declared.lower(), declared), False
    utf8 = codecs.getincrementaldecoder("utf-8")()
    undefined_seen = False
    valid_utf8 = True
    with path.open("rb") as handle:
        if path.suffix.lower() == ".dbf":
            # the binary header (counts, dates) is not text: start at the first record
            header = handle.read(12)
            handle.seek(struct.unpack("<H", header[8:10])[0] if len(header) == 12 else 0)
        while block := handle.read(chunk):
            undefined_seen = undefined_seen or any(b in block for b in _UNDEFINED_CP1252)
            if valid_utf8:
                try:
                    utf8.decode(block)
                except UnicodeDecodeError:
                    valid_utf8 = False
            if not valid_utf8 and undefined_seen:
                break
        if valid_utf8:
            try:
                utf8.decode(b"", final=True)
            except UnicodeDecodeError:
                valid_utf8 = False
    if valid_utf8:
        return "UTF-8", True
    return ("latin-1" if undefined_seen else "cp1252"), True


def _gdal_message(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"lecture impossible : {text[0] if text else type(exc).__name__}"
