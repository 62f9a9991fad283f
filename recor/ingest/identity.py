"""When two imports are the same: the digest of what an import reads and how.

The digest covers every delivered file (name and SHA-256), the profile as loaded, the
import settings and options, and the recor code itself. Two imports with the same digest,
run against the same registry version, read the same rows, find the same things and write
the same rows — which is what lets a re-import of an unchanged delivery answer at once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict
from functools import cache
from pathlib import Path

from recor.config import ImportSettings
from recor.errors import ConfigurationError
from recor.ingest.findings import Findings
from recor.ingest.profiles import Profile, load_profile
from recor.ingest.sources import DeliveryFiles
from recor.registry.model import ReplaceScope, SourceFile

__all__ = ["code_digest", "delivered_files", "input_digest"]

_PACKAGE = Path(__file__).resolve().parent.parent


@cache
def code_digest() -> str:
    """SHA-256 over the recor package's files and the versions of the libraries that read.

    Files: code, profiles, bundled reference data. Libraries: GDAL and PROJ (through
    pyogrio and pyproj), pandas, numpy, shapely, geopandas, scipy.
    """
    import geopandas
    import numpy
    import pandas
    import pyogrio
    import pyproj
    import scipy
    import shapely

    digest = hashlib.sha256()
    versions = (
        pyogrio.__version__, pyogrio.__gdal_version_string__, pyproj.__version__,
        pyproj.proj_version_str, pandas.__version__, numpy.__version__, shapely.__version__,
        shapely.geos_version_string, geopandas.__version__, scipy.__version__,
    )  # fmt: skip
    digest.update(repr(versions).encode())
    files = sorted(p for p in _PACKAGE.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    for path in files:
        digest.update(path.relative_to(_PACKAGE).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def delivered_files(
    paths: Sequence[str | Path], settings: ImportSettings
) -> tuple[SourceFile, ...] | None:
    """The files an import of ``paths`` would fingerprint, or None when one is a problem.

    Nothing is extracted nor read as a layer; a missing, special or oversized file gives
    None (the full import then reports it).
    """
    findings = Findings()
    limit = settings.max_unzipped_mb * 1024 * 1024
    files = DeliveryFiles(
        tuple(Path(p) for p in paths), findings, limit, limits=settings, fingerprint_only=True
    )
    with files:
        pass
    if len(findings.frame()) or not files.source_files:
        return None
    return tuple(files.source_files)


def input_digest(
    source_files: Sequence[SourceFile],
    *,
    profile: str | Path | Profile,
    settings: ImportSettings,
    crs: str | int | None,
    layer: str | Sequence[str] | None,
    replace_scope: ReplaceScope | None,
    registry_state: str = "",
) -> str | None:
    """SHA-256 (hex) of an import's input and options; None when the profile cannot load.

    ``registry_state`` is what of the registry, besides its batches, could change a load:
    its settings (tolerances) and applied migrations (:func:`recor.registry.registry_state`).
    """
    try:
        profile_id = (
            "auto"
            if profile == "auto"
            else repr(profile if isinstance(profile, Profile) else load_profile(profile))
        )
    except ConfigurationError:
        return None
    scope = None
    if replace_scope is not None:
        scope = {
            "source": replace_scope.source,
            "code_prefix": replace_scope.code_prefix,
            "area": None if replace_scope.area is None else replace_scope.area.wkb_hex,
        }
    names = [layer] if isinstance(layer, str) else list(layer or ())
    document = {
        "files": sorted([f.path, f.sha256, f.size] for f in source_files),
        "profile": profile_id,
        "settings": asdict(settings),
        "crs": None if crs is None else str(crs),
        "layers": names,
        "replace_scope": scope,
        "code": code_digest(),
        "registry": registry_state,
    }
    text = json.dumps(document, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()
