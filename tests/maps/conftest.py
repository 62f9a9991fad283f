"""Fixtures of the map tests: a headless Chromium, a folder for screenshots."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from recor import registry
from recor.cli import main
from recor.maps.browser import CHROMIUM, Browser, PageReport
from recor.registry import BatchInfo, Delivery

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "maps"


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the session (fails on CI when missing, skips locally)."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"browser tests cannot run on CI: {CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} not installed")
    try:
        import websocket  # noqa: F401  (websocket-client drives Chromium)
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("browser tests cannot run on CI: pip package websocket-client missing")
        pytest.skip("pip package websocket-client not installed")
    with Browser() as chromium:
        yield chromium


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Folder of the screenshots kept by the browser tests (git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def assert_clean(report: PageReport) -> None:
    """The page drew, logged no error, threw nothing and asked nothing of the network."""
    assert report.ready, f"map not drawn: {report}"
    assert report.console_errors == []
    assert report.exceptions == []
    assert report.remote_requests == []
    assert set(report.requests) <= {report.url}, f"unexpected requests: {report.requests}"


def open_and_check(browser: Browser, path: Path, artifacts: Path) -> PageReport:
    """Open a map, assert it is clean, keep a screenshot named after the file."""
    report = browser.open_map(path)
    assert_clean(report)
    browser.screenshot(artifacts / (re.sub(r"\W+", "_", path.stem) + ".png"))
    return report


#: Reference layers most map tests load (the real boundaries of the region).
BOUNDARY_KINDS = ("communes", "departements", "region")


def load_registry(
    conn,
    registry_url: str,
    delivery: Delivery,
    admin_cvl: Path,
    kinds: tuple[str, ...] = BOUNDARY_KINDS,
    *,
    cog: bool = False,
) -> list[str]:
    """Load a delivery and reference layers (and the official code) through the CLI.

    Returns the ``--database-url`` arguments for the map commands that follow.
    """
    registry.load_delivery(conn, delivery, BatchInfo(profile="map-tests"))
    db = ["--database-url", registry_url]
    for kind in kinds:
        path = str(admin_cvl / f"{kind}.geojson")
        assert main([*db, "reference", "import", path, "--kind", kind]) == 0
    if cog:
        path = str(admin_cvl / "cog-communes.csv")
        assert main([*db, "reference", "import", path, "--kind", "cog"]) == 0
    return db
