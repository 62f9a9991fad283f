"""Attribute checks on mapped layers: what counts as a missing required value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recor.ingest.attributes import _blank

BLANKS = [
    pd.Series(["a", "", " ", "\u3000", "\x1c", None, np.nan, " b ", "\t\n"], dtype=object),
    pd.Series([None, np.nan, pd.NA, pd.NaT], dtype=object),
    pd.Series([], dtype=object),
    pd.Series(["a", 1, 2.5, None, " ", b" "], dtype=object),
    pd.Series(["x", None, " "], dtype="str"),
    pd.Series([np.str_(" "), np.str_("a"), None], dtype=object),
    pd.Series([float("nan"), 1.0]),
]


@pytest.mark.parametrize("values", BLANKS)
def test_blank_is_missing_or_only_white_space_once_written_as_text(values: pd.Series) -> None:
    """The fast path for texts says what the text copy of the column says."""
    expected = (values.isna() | (values.astype(str).str.strip() == "")).to_numpy()
    assert _blank(values).tolist() == expected.tolist()


def test_blank_texts() -> None:
    values = pd.Series(["A-1", "", "  ", "\u3000", None, " B "], dtype=object)
    assert _blank(values).tolist() == [False, True, True, True, True, False]
