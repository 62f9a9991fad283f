"""Delivered files: folders and zips opened safely, layers listed, files fingerprinted.

Only regular files are opened: FIFOs, sockets and devices are refused (reading one blocks),
and a symbolic link inside a delivered folder is followed only when it stays in that folder.
A zip is never extracted blindly (:mod:`recor.ingest.archives`): it is checked whole first,
then streamed to a private temporary folder that disappears with the :class:`DeliveryFiles`.
A CSV report of an earlier ``recor import --report`` lying in the folder is skipped.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import shutil
import struct
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import pyogrio
from pyogrio.util import vsi_path

from recor.config import ImportSettings
from recor.ingest.archives import ZipLimits, extract_zip, unsafe_zip_members
from recor.ingest.findings import FINDING_COLUMNS, Findings
from recor.ingest.limits import file_problem, read_deadline
from recor.registry.model import SourceFile

__all__ = [
    "DeliveryFiles",
    "LayerSource",
    "check_shapefile",
    "detect_encoding",
    "is_recor_report",
    "one_reading",
    "sha256_file",
    "unsafe_zip_members",
]

#: File extensions read as layers.
LAYER_SUFFIXES = {".shp", ".gpkg", ".geojson", ".json", ".csv", ".dbf"}
_SHP_SIDECARS = (".shx", ".dbf", ".prj", ".cpg")
#: files GDAL or recor read beside a delivered file: part of its fingerprint
_SIDECARS = {
    ".shp": _SHP_SIDECARS,
    ".dbf": (".shp", ".shx", ".prj", ".cpg"),  # GDAL reads the geometry beside it
    ".csv": (".cpg", ".csvt", ".prj"),
}
_REPORT_HEADER = ";".join(FINDING_COLUMNS).encode("ascii")


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

    Problems (missing file, special file, link out of the delivery, unsafe or damaged zip)
    become findings rather than exceptions, so one report lists them all. While open, the
    reading stage is bounded in time (``limits.max_read_seconds``).
    """

    paths: tuple[Path, ...]
    findings: Findings = field(default_factory=Findings)
    max_unzipped_bytes: int = ImportSettings().max_unzipped_mb * 1024 * 1024
    layers: list[LayerSource] = field(default_factory=list)
    source_files: list[SourceFile] = field(default_factory=list)
    limits: ImportSettings = field(default_factory=ImportSettings)
    #: only fingerprint the delivered files (no zip extracted, no layer listed)
    fingerprint_only: bool = False
    _tmp: tempfile.TemporaryDirectory[str] | None = None
    _deadline: AbstractContextManager[None] | None = None

    def __enter__(self) -> DeliveryFiles:
        self._deadline = read_deadline(self.limits.max_read_seconds)
        self._deadline.__enter__()
        for path in self.paths:
            self._open(Path(path))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._deadline is not None:
            self._deadline.__exit__(exc_type, exc, tb)
            self._deadline = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def _open(self, path: Path) -> None:
        if not os.path.lexists(path):
            self.findings.add("SRC-NOT-FOUND", "chemin introuvable", file=str(path))
            return
        problem = file_problem(path)
        if problem is not None:
            self.findings.add("SRC-SPECIAL-FILE", problem, file=str(path))
        elif path.is_dir():
            self._add_folder(path, path.name)
        elif not self._size_ok(path, path.name):
            return
        elif path.suffix.lower() == ".zip":
            self._fingerprint(path, path.name)
            if not self.fingerprint_only:
                self._add_zip(path)
        elif path.suffix.lower() in LAYER_SUFFIXES:
            self._add_file(path, path.name, fingerprint=True)
        else:
            self.findings.add(
                "SRC-NOT-FOUND",
                "format non pris en charge (attendu : .shp, dossier, .zip, .gpkg, .geojson, .csv)",
                file=str(path),
            )

    def _size_ok(self, path: Path, display: str) -> bool:
        size = path.stat().st_size
        limit = self.limits.max_file_mb * 2**20
        if size > limit:
            self.findings.add(
                "SRC-TOO-LARGE",
                f"{size / 2**20:,.0f} Mo, au-delà de la limite de {limit / 2**20:,.0f} Mo "
                "par fichier (RECOR_IMPORTS_MAX_FILE_MB)",
                file=display,
                value=size,
            )
            return False
        return True

    def _add_zip(self, path: Path) -> None:
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="recor-import-")
        target = Path(self._tmp.name) / f"zip{len(list(Path(self._tmp.name).iterdir()))}"
        target.mkdir()
        limits = ZipLimits(
            max_bytes=self.max_unzipped_bytes,
            max_ratio=self.limits.max_zip_ratio,
            max_members=self.limits.max_zip_members,
        )
        if extract_zip(path, target, limits, self.findings):
            self._add_folder(target, path.name, fingerprint=False)

    def _add_folder(self, folder: Path, display: str, *, fingerprint: bool = True) -> None:
        files, refused = self._walk(folder, display)
        if fingerprint:
            for file in files:
                self._fingerprint(file, f"{display}/{file.relative_to(folder).as_posix()}")
        for file in [] if self.fingerprint_only else files:
            if file.suffix.lower() not in LAYER_SUFFIXES:
                continue
            shown = f"{display}/{file.relative_to(folder).as_posix()}"
            if file.suffix.lower() == ".dbf" and _sibling(file, ".shp") is not None:
                continue
            if file.suffix.lower() == ".csv" and is_recor_report(file):
                self.findings.add(
                    "SRC-REPORT-SKIPPED",
                    "rapport d'import de recor (en-tête des constats) : ignoré, pas une couche",
                    file=shown,
                )
                continue
            parts = {file.with_suffix(s).name.lower() for s in (*_SHP_SIDECARS, ".shp")}
            if file.suffix.lower() == ".shp" and parts & refused:
                continue
            self._add_file(file, shown, fingerprint=False)

    def _walk(self, folder: Path, display: str) -> tuple[list[Path], set[str]]:
        """Regular files under ``folder``; links out of it and special files become findings.

        Returns the files, and the lower-case names of refused entries (a Shapefile one of
        whose parts is refused is not read).
        """
        files: list[Path] = []
        refused: set[str] = set()
        for current, dirs, names in os.walk(folder, followlinks=False):
            base = Path(current)
            for name in sorted(dirs):
                if (base / name).is_symlink():
                    refused.add(name.lower())
                    self._refuse(base / name, folder, display, "lien vers un dossier : non suivi")
            for name in sorted(names):
                path = base / name
                problem = file_problem(path, root=folder)
                if problem is None and not path.is_file():
                    problem = "lien vers un dossier : non suivi"
                if problem is not None:
                    refused.add(name.lower())
                    self._refuse(path, folder, display, problem)
                elif self._size_ok(path, f"{display}/{path.relative_to(folder).as_posix()}"):
                    files.append(path)
        return sorted(files), refused

    def _refuse(self, path: Path, folder: Path, display: str, problem: str) -> None:
        self.findings.add(
            "SRC-SPECIAL-FILE", problem, file=f"{display}/{path.relative_to(folder).as_posix()}"
        )

    def _add_file(self, path: Path, display: str, *, fingerprint: bool) -> None:
        suffix = path.suffix.lower()
        if fingerprint:
            self._fingerprint(path, display)
            for sidecar in _SIDECARS.get(suffix, ()):
                other = _sibling(path, sidecar)
                if other is not None:
                    self._fingerprint(other, other.name)
            for journal in ("-wal", "-journal"):  # SQLite (GeoPackage) reads them too
                other = path.with_name(path.name + journal)
                if os.path.lexists(other) and file_problem(other, root=path.parent) is None:
                    self._fingerprint(other, other.name)
        if self.fingerprint_only:
            return
        readable = self._gdal_safe(path)
        if suffix == ".gpkg":
            try:
                with warnings.catch_warnings():  # GDAL's warnings on a damaged file: not ours
                    warnings.simplefilter("ignore", RuntimeWarning)
                    names = [str(row[0]) for row in pyogrio.list_layers(readable)]
            except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError) as exc:
                self.findings.add("SRC-UNREADABLE", _gdal_message(exc), file=display)
                return
            for name in names:
                self.layers.append(
                    LayerSource(readable, f"{display}!{name}", name.lower(), "gpkg", name)
                )
            return
        kind = {".json": "geojson", ".geojson": "geojson"}.get(suffix, suffix.lstrip("."))
        self.layers.append(LayerSource(readable, display, path.stem.lower(), kind))

    def _gdal_safe(self, path: Path) -> Path:
        """``path``, or a private alias when pyogrio would read its name as a URI.

        pyogrio parses paths as URIs: ``a;b.shp`` would open ``a``, ``x!y`` an archive
        member. Such a file (with its sidecars) is hard-linked, or copied, under a plain
        name into the private folder.
        """
        if vsi_path(str(path)) == str(path):
            return path
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="recor-import-")
        folder = Path(self._tmp.name) / f"alias{len(list(Path(self._tmp.name).iterdir()))}"
        folder.mkdir()
        for part in path.parent.iterdir():
            if part.stem == path.stem and part.is_file() and not part.is_symlink():
                target = folder / f"layer{part.suffix}"
                try:
                    os.link(part, target)
                except OSError:
                    shutil.copyfile(part, target)
        return folder / f"layer{path.suffix}"

    def _fingerprint(self, path: Path, display: str) -> None:
        self.source_files.append(
            SourceFile(path=display, sha256=sha256_file(path), size=path.stat().st_size)
        )


def is_recor_report(path: Path) -> bool:
    """True when ``path`` is a CSV report written by ``recor import --report``."""
    with path.open("rb") as handle:
        first = handle.read(len(_REPORT_HEADER) + 8)
    return first.removeprefix(b"\xef\xbb\xbf").startswith(_REPORT_HEADER)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's content, read in chunks (remembered within :func:`one_reading`)."""
    memo = _DIGESTS.get()
    stat = path.stat()
    key = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    if memo is not None and key in memo:
        return memo[key]
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    if memo is not None:
        memo[key] = digest.hexdigest()
    return digest.hexdigest()


@contextmanager
def one_reading() -> Iterator[None]:
    """Within this block a file unchanged on disk (same inode, size and times) is hashed once.

    An import fingerprints its files to tell whether they are the newest batch's, then
    again as it reads them; the memory ends with the import, so a later import of a file
    rewritten in the meantime always hashes it again.
    """
    token = _DIGESTS.set({})
    try:
        yield
    finally:
        _DIGESTS.reset(token)


_DIGESTS: ContextVar[dict[tuple[int, ...], str] | None] = ContextVar("_DIGESTS", default=None)


def _sibling(path: Path, suffix: str) -> Path | None:
    """The regular file next to ``path`` with another suffix, whatever the case of the suffix.

    A FIFO, device or link out of the folder is not a sidecar (reading it could block).
    """
    for candidate in (path.with_suffix(suffix), path.with_suffix(suffix.upper())):
        if os.path.lexists(candidate) and file_problem(candidate, root=path.parent) is None:
            return candidate if candidate.is_file() else None
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
        with cpg.open("rb") as handle:
            declared = handle.read(64).decode("ascii", errors="replace").strip()
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
