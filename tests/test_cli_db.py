"""The registry commands as a person runs them."""

from __future__ import annotations

import json

import pytest

from recor import registry
from recor.cli import main
from recor.registry import BatchInfo, Delivery

pytestmark = pytest.mark.db


def test_db_init_is_idempotent_and_status_lists_migrations(registry_url, capsys):
    assert main(["--database-url", registry_url, "db", "init"]) == 0
    assert "none (up to date)" in capsys.readouterr().out
    assert main(["--database-url", registry_url, "db", "status"]) == 0
    status = capsys.readouterr().out
    assert "0001_registry: applied" in status and "pending" not in status


def test_summary_json_states_the_data_version(conn, registry_url, sample_delivery, capsys):
    registry.load_delivery(conn, sample_delivery, BatchInfo())
    assert main(["--database-url", registry_url, "summary", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["data_version"].startswith("batch 1 ")
    assert summary["segments"] == len(sample_delivery.segments)
    unknown = sample_delivery.segments["fibre_count"].isna()
    assert summary["unknown_fibre_count"]["segments"] == int(unknown.sum())
    assert summary["unknown_usage"]["segments"] == int(
        sample_delivery.segments["fibres_used"].isna().sum()
    )
    assert main(["--database-url", registry_url, "summary"]) == 0
    assert f"unknown fibre count: {int(unknown.sum())} segments" in capsys.readouterr().out


def test_history_lists_every_version_of_a_segment(conn, registry_url, sample_delivery, capsys):
    registry.load_delivery(conn, sample_delivery, BatchInfo())
    segments = sample_delivery.segments.copy()
    code = segments.loc[0, "code"]
    segments.loc[0, "fibres_used"] = 0
    registry.load_delivery(conn, Delivery(sample_delivery.sites, segments), BatchInfo())
    assert main(["--database-url", registry_url, "history", code]) == 0
    out = capsys.readouterr().out
    assert f"segment {code}: 2 version(s)" in out
    assert "batch 1: " in out and "batch 2: " in out and "→ now" in out
    assert "fibres_used=0" in out


def test_an_unknown_code_is_a_clear_error(registry_url, capsys):
    assert main(["--database-url", registry_url, "history", "NOPE"]) == 2
    assert "no segment, site or shared-risk group with code 'NOPE'" in capsys.readouterr().err


def test_history_finds_a_site_by_its_code(conn, registry_url, sample_delivery, capsys):
    registry.load_delivery(conn, sample_delivery, BatchInfo())
    assert main(["--database-url", registry_url, "history", "POP-ORLEANS"]) == 0
    assert "site POP-ORLEANS: 1 version(s)" in capsys.readouterr().out
