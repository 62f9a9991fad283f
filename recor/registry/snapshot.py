"""One consistent read of the registry for a whole command: the snapshot.

A command that produces several outputs (``recor map all``: coverage, network and
redundancy maps) reads the registry once, here, and hands the data (never the connection)
to every analysis and map builder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd

from recor.registry.model import RegistryVersion
from recor.registry.read import (
    read_risk_groups,
    read_transaction,
    registry_version,
    run_reads,
    segments_read,
    sites_read,
)
from recor.registry.reference import REFERENCE_KINDS, read_cog, read_reference

if TYPE_CHECKING:
    import psycopg

__all__ = ["RegistrySnapshot", "snapshot"]


@dataclass(frozen=True)
class RegistrySnapshot:
    """Sites, segments, risk groups, boundary layers and the data version, read together.

    ``sites`` and ``segments`` are the frames of :func:`recor.registry.read_sites` and
    :func:`recor.registry.read_segments` (every status unless the snapshot was filtered);
    ``references`` holds the non-empty boundary layers by kind (``region``,
    ``departements``, ``arrondissements``, ``communes``, …) and ``cog`` the official
    geographic code (empty when none was imported).
    """

    sites: gpd.GeoDataFrame
    segments: gpd.GeoDataFrame
    risk_groups: pd.DataFrame
    version: RegistryVersion
    references: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    cog: pd.DataFrame = field(default_factory=pd.DataFrame)


def snapshot(
    conn: psycopg.Connection,
    *,
    as_of: datetime | None = None,
    statuses: tuple[str, ...] | None = None,
    references: bool = True,
    detail: bool = True,
) -> RegistrySnapshot:
    """Read the registry once: sites, segments, risk groups, boundaries and version.

    One repeatable-read transaction, so every part shows the same registry state; sites
    and segments travel column by column in binary (:mod:`recor.registry._columnar`).

    Parameters
    ----------
    conn
        Registry connection.
    as_of
        A past time: the registry as it was then (boundaries are always the current ones).
    statuses
        Statuses of the sites and segments read; None reads every status.
    references
        Also read the boundary layers and the official geographic code.
    detail
        False: only the columns a network graph uses (code, name, kind, status, ends,
        length, fibre counts, installation, shared-risk groups, geometry).
    """
    # one transaction: every part of the snapshot sees the same registry state
    with read_transaction(conn):
        sites, segments = run_reads(
            conn,
            [
                sites_read(status=statuses, as_of=as_of, detail=detail),
                segments_read(status=statuses, as_of=as_of, detail=detail),
            ],
        )
        version = registry_version(conn, as_of)
        risk_groups = read_risk_groups(conn, as_of=as_of)
        layers: dict[str, gpd.GeoDataFrame] = {}
        cog = pd.DataFrame()
        if references:
            for kind in REFERENCE_KINDS:
                frame = read_reference(conn, kind, missing_ok=True)
                if not frame.empty:
                    layers[kind] = frame
            cog = read_cog(conn)
    return RegistrySnapshot(
        sites=sites,
        segments=segments,
        risk_groups=risk_groups,
        version=version,
        references=layers,
        cog=cog,
    )
