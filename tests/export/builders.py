"""Registries for the export tests: the sample network with some unknown values."""

from __future__ import annotations

import pandas as pd
import psycopg

from recor import registry
from recor.registry import BatchInfo, Delivery

#: Segments of the sample whose fibre counts are made unknown (never 0 in any export).
UNKNOWN_COUNT_SEGMENTS: tuple[str, ...] = ("SEG-0002", "SEG-0003")


def sample_with_unknowns(delivery: Delivery) -> Delivery:
    """The sample with unknown fibre counts on :data:`UNKNOWN_COUNT_SEGMENTS`."""
    segments = delivery.segments.copy()
    unknown = segments["code"].isin(UNKNOWN_COUNT_SEGMENTS)
    assert unknown.sum() == len(UNKNOWN_COUNT_SEGMENTS)
    segments["fibre_count"] = segments["fibre_count"].astype("Int64")
    segments["fibres_used"] = segments["fibres_used"].astype("Int64")
    segments.loc[unknown, ["fibre_count", "fibres_used"]] = pd.NA
    return Delivery(delivery.sites, segments, delivery.risk_groups, delivery.segment_risk_groups)


def load(conn: psycopg.Connection, delivery: Delivery, profile: str = "sample") -> int:
    """Load a delivery as one batch; its id."""
    summary = registry.load_delivery(conn, delivery, BatchInfo(profile=profile))
    assert summary.batch_id is not None
    return summary.batch_id
