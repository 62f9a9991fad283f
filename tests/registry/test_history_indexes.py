"""History tables' indexes (migration 0018): as-of reads and the undo can use them."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from recor import registry
from recor.registry import BatchInfo, Delivery

pytestmark = pytest.mark.db


def _with_fibre_count(delivery: Delivery, code: str, count: int) -> Delivery:
    segments = delivery.segments.copy()
    segments.loc[segments["code"] == code, ["fibre_count", "fibres_used"]] = [count, 0]
    return Delivery(delivery.sites, segments, delivery.risk_groups, delivery.segment_risk_groups)


def _plans(conn: psycopg.Connection) -> list[str]:
    """Plans of every statement this connection runs from now on (auto_explain to the client).

    Sequential scans are priced out, so a plan reads an index whenever one can answer: a
    query that no index can serve still scans the table, and the test sees it.
    """
    plans: list[str] = []
    conn.add_notice_handler(lambda diag: plans.append(diag.message_primary or ""))
    conn.execute("LOAD 'auto_explain'")
    for setting in (
        "auto_explain.log_min_duration = 0",
        "auto_explain.log_nested_statements = on",
        "client_min_messages = log",
        "enable_seqscan = off",
    ):
        conn.execute(f"SET {setting}")
    return plans


def test_as_of_reads_and_the_undo_use_the_history_indexes(conn, sample_delivery):
    code = sample_delivery.segments["code"].iloc[0]
    registry.load_delivery(conn, sample_delivery, BatchInfo())
    moment = datetime.now(UTC)
    changed = registry.load_delivery(
        conn, _with_fibre_count(sample_delivery, code, 432), BatchInfo()
    )
    plans = _plans(conn)

    versions = registry.history(conn, code, entity="segments")
    assert list(versions["fibre_count"]) == [
        sample_delivery.segments.set_index("code").at[code, "fibre_count"],
        432,
    ]

    plans.clear()
    registry.read_segments(conn, as_of=moment)
    assert any("segments_history_valid_to_idx" in plan for plan in plans)

    plans.clear()
    registry.undo_batch(conn, changed.batch_id)
    undo_plans = "\n".join(plans)
    for table in ("sites", "segments", "risk_groups", "segment_risk_groups"):
        assert f"{table}_history_ended_by_idx" in undo_plans, table
    assert registry.read_segments(conn).set_index("code").at[code, "fibre_count"] != 432
