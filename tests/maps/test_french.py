"""French writing on maps: numbers, distances, dates in Paris time, the data version."""

from __future__ import annotations

from datetime import UTC, date, datetime

import geopandas as gpd
import pandas as pd
import shapely

from recor.maps._common import display_segments
from recor.maps._fr import NNBSP, km_fr, number_fr, version_fr
from recor.registry.model import RegistryVersion


def test_numbers_group_digits_with_a_narrow_no_break_space_and_a_decimal_comma() -> None:
    assert number_fr(1776) == f"1{NNBSP}776"
    assert number_fr(99252) == f"99{NNBSP}252"
    assert number_fr(1234567.25, 2) == f"1{NNBSP}234{NNBSP}567,25"
    assert number_fr(5.0, 1) == "5,0"
    assert number_fr(None) == "inconnu" and number_fr(float("nan")) == "inconnu"
    assert km_fr(2.5) == "2,5" and km_fr(10.0) == "10"


def test_the_data_version_says_lot_d_import_in_paris_time_summer_and_winter() -> None:
    summer = RegistryVersion(3, datetime(2026, 7, 1, 12, 0, tzinfo=UTC))
    assert version_fr(summer) == "lot d'import 3 du 01/07/2026 à 14:00 (heure de Paris)"
    winter = RegistryVersion(
        12,
        datetime(2026, 11, 28, 14, 3, tzinfo=UTC),
        as_of=datetime(2026, 1, 31, 23, 0, tzinfo=UTC),
    )
    assert version_fr(winter) == (
        "lot d'import 12 du 28/11/2026 à 15:03 (heure de Paris),"
        " état du registre au 01/02/2026 à 00:00"
    )
    assert version_fr(RegistryVersion(None, None)) == "registre vide"


def test_commissioning_dates_read_day_month_year() -> None:
    segments = gpd.GeoDataFrame(
        {"code": ["S1", "S2"], "commissioned_on": [date(2018, 4, 1), None]},
        geometry=[shapely.LineString([(0, 0), (1, 0)])] * 2,
        crs=2154,
    )
    shown = display_segments(segments)["commissioned_on"]
    assert shown.iloc[0] == "01/04/2018" and pd.isna(shown.iloc[1])  # unknown stays unknown
