"""A small delivery whose segments have unknown fibre counts, usage, dates and operators.

Built from the bundled sample so that every map kind has something to show: one in-service
segment in three has no fibre count (and so no usage), one in two has no usage, and every
fifth has neither owner, operator nor commissioning date.
"""

from __future__ import annotations

import pandas as pd

from recor.registry import Delivery

__all__ = ["with_unknowns"]


def with_unknowns(delivery: Delivery) -> Delivery:
    """The delivery with unknown counts, usage, dates and operators on some segments."""
    segments = delivery.segments.copy()
    for column in ("fibre_count", "fibres_used"):
        segments[column] = segments[column].astype("Int64")
    position = pd.Series(range(len(segments)), index=segments.index)
    no_count = position % 3 == 0
    no_usage = no_count | (position % 2 == 0)
    segments.loc[no_count, "fibre_count"] = pd.NA
    segments.loc[no_usage, "fibres_used"] = pd.NA
    nobody = position % 5 == 0
    for column in ("owner", "operator", "commissioned_on"):
        if column in segments:
            segments[column] = segments[column].astype("object")
            segments.loc[nobody, column] = None
    return Delivery(delivery.sites, segments, delivery.risk_groups, delivery.segment_risk_groups)
