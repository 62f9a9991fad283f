"""One read of the registry for an export: sites, segments, groups, links, batches, version."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import geopandas as gpd
import pandas as pd
import psycopg
import shapely
from shapely.geometry.base import BaseGeometry

from recor import registry
from recor.registry.export_read import read_batches, read_segment_risk_links
from recor.registry.model import RegistryVersion

__all__ = ["Snapshot", "read_snapshot"]


@dataclass(frozen=True)
class Snapshot:
    """The registry (or part of it) at one time, as frames in EPSG:2154.

    ``area`` is the polygon the snapshot was limited to (None: everything): segments crossing
    it, sites inside it, and the end sites of those segments (so every segment keeps both
    ends); groups and links of the kept segments; ``batches`` is every batch up to then.
    """

    sites: gpd.GeoDataFrame
    segments: gpd.GeoDataFrame
    risk_groups: pd.DataFrame
    links: pd.DataFrame
    batches: pd.DataFrame
    version: RegistryVersion
    as_of: datetime | None = None
    area: BaseGeometry | None = None

    def within(self, area: BaseGeometry | None) -> Snapshot:
        """The part of the snapshot in ``area`` (EPSG:2154); the same snapshot for None."""
        if area is None:
            return self
        segments = self.segments[self.segments.geometry.intersects(area).to_numpy()]
        ends = set(segments["site_a"]) | set(segments["site_b"])
        inside = shapely.intersects(area, self.sites.geometry.to_numpy())
        sites = self.sites[inside | self.sites["code"].isin(ends).to_numpy()]
        links = self.links[self.links["segment_code"].isin(segments["code"])]
        groups = self.risk_groups[self.risk_groups["code"].isin(links["risk_group_code"])]
        return replace(
            self, sites=sites, segments=segments, risk_groups=groups, links=links, area=area
        )


def read_snapshot(
    conn: psycopg.Connection,
    *,
    as_of: datetime | None = None,
    area: BaseGeometry | None = None,
) -> Snapshot:
    """Read everything an export needs, once.

    Call it inside one repeatable-read transaction for a consistent view (the CLI does).

    Parameters
    ----------
    as_of
        A past time: the registry as it was then (default: now).
    area
        Polygon (EPSG:2154) to limit the snapshot to.
    """
    snapshot = Snapshot(
        sites=registry.read_sites(conn, as_of=as_of),
        segments=registry.read_segments(conn, as_of=as_of),
        risk_groups=registry.read_risk_groups(conn, as_of=as_of),
        links=read_segment_risk_links(conn, as_of=as_of),
        batches=read_batches(conn, as_of=as_of),
        version=registry.registry_version(conn, as_of),
        as_of=as_of,
    )
    return snapshot.within(area)
