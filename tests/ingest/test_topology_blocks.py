"""The layout checks find the same crossings and overlaps whatever the block size."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from recor.config import STORAGE_CRS
from recor.ingest.findings import Findings
from recor.ingest.topology import check_segment_layout


def _random_lines(count: int, seed: int = 7) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    start = rng.uniform(600_000, 602_000, size=(count, 2))
    end = start + rng.uniform(-300, 300, size=(count, 2))
    lines = shapely.linestrings(np.stack([start, end], axis=1))
    lines[5] = lines[4]  # one exact duplicate
    # one overlapping the first half of another
    lines[9] = shapely.linestrings([[*start[8]], [*(start[8] + (end[8] - start[8]) / 2)]])
    return gpd.GeoDataFrame(
        {
            "code": [f"T-{i}" for i in range(count)],
            "site_a": [f"A-{i}" for i in range(count)],
            "site_b": [f"B-{i}" for i in range(count)],
            "_file": "lignes.shp",
            "_feature": np.arange(count),
        },
        geometry=lines,
        crs=STORAGE_CRS,
    )


def _layout(frame: gpd.GeoDataFrame, block: int) -> list[tuple]:
    findings = Findings()
    check_segment_layout(frame, findings, tolerance=1.0, block=block)
    found = findings.frame()
    return sorted(found[["rule", "code", "message", "value"]].itertuples(index=False))


def test_blocks_do_not_change_what_is_found() -> None:
    frame = _random_lines(300)
    whole = _layout(frame, block=100_000)
    rules = {row[0] for row in whole}
    assert {"TOPO-CROSSING", "TOPO-OVERLAP"} <= rules
    assert _layout(frame, block=7) == whole
    assert _layout(frame, block=1) == whole
