"""Fixtures of the import tests: small deliveries written as real files under tmp_path."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest

from tests.ingest.ingest_builders import WriteDelivery, segment_frame, site_frame


@pytest.fixture
def write_delivery(tmp_path: Path) -> WriteDelivery:
    """Write sites/segments frames as a Shapefile folder; returns the folder."""

    def write(
        sites: gpd.GeoDataFrame | None = None,
        segments: gpd.GeoDataFrame | None = None,
        *,
        name: str = "livraison",
        encoding: str = "UTF-8",
    ) -> Path:
        folder = tmp_path / name
        folder.mkdir(exist_ok=True)
        for layer, frame in (("sites", sites), ("segments", segments)):
            frame = (
                (site_frame() if layer == "sites" else segment_frame()) if frame is None else frame
            )
            pyogrio.write_dataframe(frame, folder / f"{layer}.shp", encoding=encoding)
        return folder

    return write
