"""Zip deliveries opened safely: checked whole before anything is written, extracted in bounds.

An archive is refused whole, with nothing extracted, when a member would land outside the
extraction folder (absolute path, ``..``, link, special file, a name given twice), when a
member is encrypted, or when the declared sizes exceed the limits (total, and ratio to the
archive's size: a 1 MB zip that unpacks to 1 GiB). Extraction then streams each member to
disk in blocks, counting real bytes against the same limits (declared sizes can lie), so
memory stays at one block; a bad CRC, a bad header or a truncated member refuses the archive
and removes what was extracted.
"""

from __future__ import annotations

import shutil
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from recor.ingest.findings import Findings
from recor.ingest.limits import time_is_up

__all__ = ["ZipLimits", "extract_zip", "unsafe_zip_members"]

_BLOCK = 1 << 20
#: What a damaged archive raises while being read (zlib, header, CRC and size errors).
_DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError)


@dataclass(frozen=True)
class ZipLimits:
    """How much an archive may unpack to."""

    max_bytes: int
    max_ratio: float = 100.0
    ratio_floor_bytes: int = 64 << 20
    max_members: int = 10_000


def unsafe_zip_members(archive: zipfile.ZipFile) -> list[str]:
    """Names of members that would land outside the extraction folder, or are not files.

    Absolute paths, ``..`` components, symbolic links, FIFOs, devices, sockets and names
    given twice (the second would overwrite the first) are unsafe.
    """
    unsafe, seen = [], set()
    for info in archive.infolist():
        name = info.filename.replace("\\", "/")
        parts = PurePosixPath(name).parts
        kind = stat.S_IFMT(info.external_attr >> 16)  # 0 when the archiver gave no type
        special = kind not in (0, stat.S_IFREG, stat.S_IFDIR)
        absolute = name.startswith("/") or (len(name) > 1 and name[1] == ":")
        folded = name.lower().rstrip("/")
        if absolute or ".." in parts or special or folded in seen or "\x00" in name:
            unsafe.append(info.filename)
        seen.add(folded)
    return unsafe


def extract_zip(path: Path, target: Path, limits: ZipLimits, findings: Findings) -> bool:
    """Extract ``path`` into the empty folder ``target``; False (with findings) when refused."""
    display = path.name
    try:
        archive = zipfile.ZipFile(path)
    except _DAMAGED as exc:
        findings.add("SRC-ZIP-CORRUPT", f"archive zip illisible : {exc}", file=display)
        return False
    with archive:
        if not _acceptable(archive, path, limits, findings):
            return False
        try:
            complete = _stream_members(archive, target, limits, findings, display)
        except _DAMAGED as exc:
            findings.add(
                "SRC-ZIP-CORRUPT",
                f"archive endommagée ({exc}) ; rien n'est lu de cette archive",
                file=display,
            )
            complete = False
    if not complete:
        shutil.rmtree(target, ignore_errors=True)
    return complete


def _acceptable(
    archive: zipfile.ZipFile, path: Path, limits: ZipLimits, findings: Findings
) -> bool:
    display = path.name
    members = archive.infolist()
    if len(members) > limits.max_members:
        findings.add(
            "SRC-ZIP-TOO-LARGE",
            f"{len(members):,} membres, au-delà de la limite de {limits.max_members:,} ; "
            "rien n'a été extrait",
            file=display,
            value=len(members),
        )
        return False
    unsafe = unsafe_zip_members(archive)
    for name in unsafe:
        findings.add(
            "SRC-ZIP-UNSAFE",
            "membre refusé : chemin absolu, « .. », lien, fichier spécial ou nom en double ; "
            "rien n'a été extrait",
            file=display,
            field="member",
            value=name,
        )
    encrypted = [info.filename for info in members if info.flag_bits & 0x1]
    for name in encrypted:
        findings.add(
            "SRC-ZIP-ENCRYPTED",
            "membre chiffré (mot de passe) : livrer une archive sans chiffrement",
            file=display,
            field="member",
            value=name,
        )
    declared = sum(info.file_size for info in members)
    size = max(path.stat().st_size, 1)
    too_big = declared > limits.max_bytes
    bomb = declared > limits.ratio_floor_bytes and declared / size > limits.max_ratio
    if too_big or bomb:
        reason = (
            f"au-delà de la limite de {limits.max_bytes / 2**20:,.0f} Mo"
            if too_big
            else f"{declared / size:,.0f} fois la taille de l'archive (limite {limits.max_ratio:g})"
        )
        findings.add(
            "SRC-ZIP-TOO-LARGE",
            f"{declared / 2**20:,.0f} Mo une fois décompressée, {reason} ; rien n'a été extrait",
            file=display,
            value=declared,
        )
    return not (unsafe or encrypted or too_big or bomb)


def _stream_members(
    archive: zipfile.ZipFile, target: Path, limits: ZipLimits, findings: Findings, display: str
) -> bool:
    budget = min(limits.max_bytes, max(limits.ratio_floor_bytes, _ratio_budget(archive, limits)))
    written = 0
    for info in archive.infolist():
        destination = target / PurePosixPath(info.filename.replace("\\", "/"))
        if info.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(info) as source, destination.open("xb") as sink:
            while block := source.read(_BLOCK):
                written += len(block)
                if written > budget or time_is_up():
                    rule = "SRC-TIMEOUT" if time_is_up() else "SRC-ZIP-TOO-LARGE"
                    findings.add(
                        rule,
                        f"extraction interrompue au membre {info.filename} "
                        f"({written / 2**20:,.0f} Mo écrits)",
                        file=display,
                        field="member",
                        value=info.filename,
                    )
                    return False
                sink.write(block)
    return True


def _ratio_budget(archive: zipfile.ZipFile, limits: ZipLimits) -> int:
    compressed = sum(info.compress_size for info in archive.infolist())
    return int(max(compressed, 1) * limits.max_ratio)
