"""GraceTHD kept tables: a version per real change, with the import's code prefix."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

from recor.registry.gracethd_store import read_gracethd_tables, store_gracethd_tables
from recor.registry.lock import write_transaction
from recor.registry.model import EntityCounts

pytestmark = pytest.mark.db


def _store(conn, frame: gpd.GeoDataFrame) -> EntityCounts:
    with write_transaction(conn, user="test"):
        batch = conn.execute("SELECT recor.begin_batch('test', 'gracethd', '', '[]', '[]')")
        batch_id = batch.fetchone()[0]
        counts = store_gracethd_tables(conn, batch_id, {"t_cheminement": frame})
        conn.execute("SELECT recor.finish_batch(%s, '{}', 'loaded')", (batch_id,))
    return counts


def _paths(shift: float, prefix: str = "") -> gpd.GeoDataFrame:
    line = shapely.LineString([(600_000.123456, 6_700_000.654321), (600_100.5, 6_700_050.25)])
    frame = gpd.GeoDataFrame(
        {"cm_code": ["CM1"], "cm_statut": ["AVP"]},
        geometry=[shapely.transform(line, lambda xy: xy + shift)], crs=2154,
    )  # fmt: skip
    frame.attrs["code_prefix"] = prefix
    return frame


def test_a_round_trip_within_the_tolerance_stores_no_new_version(conn) -> None:
    assert _store(conn, _paths(0.0, "TCN:")).added == ["t_cheminement"]
    # micrometres, as a shapefile round trip moves them: the same table
    assert _store(conn, _paths(2e-6, "TCN:")) == EntityCounts(unchanged=1)  # kept as it was
    # another namespace, or a real move, is a new version
    assert _store(conn, _paths(2e-6, "X:")).changed == ["t_cheminement"]
    assert _store(conn, _paths(0.5, "X:")).changed == ["t_cheminement"]
    kept = read_gracethd_tables(conn)["t_cheminement"]
    assert kept.attrs["code_prefix"] == "X:"
    assert kept.geometry.iloc[0].coords[0][0] == pytest.approx(600_000.623456)
