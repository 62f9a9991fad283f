"""The registry at a date as one GeoPackage that ``recor import`` takes back unchanged.

Layers follow the project's own survey format (profile ``recor``): ``sites`` and
``segments`` with the registry's columns (``extra`` as a JSON object), ``risk_groups`` and
``segment_risk_groups``; beside them, ``import_batches`` (provenance of every batch up to the
snapshot) and ``export_info`` (what the file is), two tables an import does not read.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from recor import __version__
from recor.domain import RISK_GROUP_COLUMNS, SEGMENT_COLUMNS, SITE_COLUMNS
from recor.errors import ConfigurationError
from recor.export.snapshot import Snapshot

__all__ = ["SNAPSHOT_LAYERS", "write_gpkg"]

#: Layers of a snapshot GeoPackage, in writing order.
SNAPSHOT_LAYERS: tuple[str, ...] = (
    "sites",
    "segments",
    "risk_groups",
    "segment_risk_groups",
    "import_batches",
    "export_info",
)


def write_gpkg(snapshot: Snapshot, path: Path | str) -> Path:
    """Write ``snapshot`` as a GeoPackage (replacing ``path``).

    Unknown values stay null (fibre counts, commissioning dates); ``extra`` is JSON text.

    Returns
    -------
    Path
        The file written.
    """
    path = Path(path)
    if path.suffix.lower() != ".gpkg":
        raise ConfigurationError(f"{path}: a GeoPackage snapshot is a .gpkg file")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    sites = _with_json_extra(snapshot.sites[[*SITE_COLUMNS, "geometry"]])
    segments = _with_json_extra(snapshot.segments[[*SEGMENT_COLUMNS, "geometry"]])
    segments["commissioned_on"] = [
        None if pd.isna(d) else pd.Timestamp(d).date().isoformat()
        for d in segments["commissioned_on"]
    ]
    pyogrio.write_dataframe(sites, path, layer="sites", geometry_type="Point")
    pyogrio.write_dataframe(segments, path, layer="segments", geometry_type="LineString")
    groups = snapshot.risk_groups[list(RISK_GROUP_COLUMNS)].copy()
    groups["extra"] = [json.dumps(e, ensure_ascii=False, sort_keys=True) for e in groups["extra"]]
    _write_table(groups, path, "risk_groups")
    _write_table(snapshot.links, path, "segment_risk_groups")
    batches = snapshot.batches.copy()
    for column in ("started_at", "finished_at"):
        batches[column] = [None if pd.isna(t) else t.isoformat() for t in batches[column]]
    _write_table(batches, path, "import_batches")
    _write_table(_info(snapshot), path, "export_info")
    return path


def _with_json_extra(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    out = frame.copy()
    out["extra"] = [json.dumps(e, ensure_ascii=False, sort_keys=True) for e in out["extra"]]
    return out


def _write_table(table: pd.DataFrame, path: Path, layer: str) -> None:
    """A table without geometry (GeoPackage attribute table)."""
    pyogrio.write_dataframe(table.reset_index(drop=True), path, layer=layer)


def _info(snapshot: Snapshot) -> pd.DataFrame:
    rows = {
        "format": "recor snapshot (profile recor)",
        "recor_version": __version__,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "data_version": snapshot.version.label(),
        "as_of": snapshot.as_of.isoformat() if snapshot.as_of else "now",
        "area_wkt": snapshot.area.wkt if snapshot.area is not None else "whole registry",
        "sites": str(len(snapshot.sites)),
        "segments": str(len(snapshot.segments)),
        "risk_groups": str(len(snapshot.risk_groups)),
        "crs": "EPSG:2154",
    }
    return pd.DataFrame({"key": list(rows), "value": list(rows.values())})
