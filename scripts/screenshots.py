"""Screenshots of every map kind on the sample, for the README (not a test).

Creates a throwaway registry, loads the bundled sample network, the real boundaries and
official geographic code of Centre-Val de Loire (``../shared/data/admin-cvl``) and a second
survey (the Argenton–Le Blanc line finished, a direct Valençay–Châteauroux link, the
abandoned Beaugency–Mer cable removed) so the registry has a history; writes each map
through the ``recor`` command and photographs it in headless Chromium (offline: every
remote name unresolvable). The PNGs are drawn at 0.75 of a 1280 × 800 page and must stay
under 200 kB each. Run::

    .venv/bin/python scripts/screenshots.py [--out docs/img]
"""

from __future__ import annotations

import argparse
import base64
import os
import tempfile
import time
import uuid
from pathlib import Path

import geopandas as gpd
import pandas as pd
import psycopg
import shapely

from recor import registry
from recor.cli import main as recor_main
from recor.maps.browser import Browser
from recor.registry import BatchInfo, Delivery, ReplaceScope
from recor.registry.history import list_batches
from recor.sample import SOURCE, build_sample

ROOT = Path(__file__).resolve().parents[1]
ADMIN = ROOT.parent / "shared" / "data" / "admin-cvl"
MAX_BYTES = 200_000

#: File name → ``recor map`` arguments (the route and what-if show the demo's story: the
#: Orléans datacentre's two links share one Loire bridge).
SHOTS: dict[str, list[str]] = {
    "network": ["network"],
    "network-public": ["network", "--public"],
    "coverage": ["coverage"],
    "redundancy": ["redundancy"],
    "route": ["route", "--from", "DC-ORLEANS", "--to", "DC-TOURS"],
    "whatif": ["whatif", "--group", "BRIDGE-ORLEANS-LOIRE"],
    "compare": ["redundancy", "--compare", "{first}"],
    "planned": ["redundancy", "--with-planned"],
}


def next_survey(sample: Delivery) -> Delivery:
    """The sample as a later survey delivers it (see the module docstring)."""
    built = ("SEG-0133", "SEG-0134", "SEG-0135", "SEG-0136", "CH-0086", "CH-0087", "CH-0088")
    removed = ("SEG-0153", "SEG-0154", "CH-0098")
    sites = sample.sites[~sample.sites["code"].isin(removed)].copy()
    segments = sample.segments[~sample.segments["code"].isin(removed)].copy()
    sites.loc[sites["code"].isin(built), "status"] = "in_service"
    segments.loc[segments["code"].isin(built), "status"] = "in_service"
    xy = sites.set_index("code").geometry
    link = {
        **segments.iloc[0].to_dict(),
        "code": "SEG-9002",
        "site_a": "POP-VALENCAY",
        "site_b": "POP-CHATEAUROUX",
        "geometry": shapely.LineString([xy["POP-VALENCAY"], xy["POP-CHATEAUROUX"]]),
    }
    segments = pd.concat([segments, gpd.GeoDataFrame([link], crs=segments.crs)], ignore_index=True)
    return Delivery(sites, segments, sample.risk_groups, sample.segment_risk_groups)


def _database(admin: str, name: str, *, create: bool) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')
        else:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _load(url: str) -> str:
    """Fill the registry; return the time between the two surveys (ISO)."""
    sample = build_sample()
    with registry.connect(url, autocommit=True) as conn:
        registry.upgrade(conn)
        registry.load_delivery(conn, sample, BatchInfo(profile="sample", note="first survey"))
        time.sleep(0.05)
        registry.load_delivery(
            conn,
            next_survey(sample),
            BatchInfo(profile="sample", note="second survey"),
            replace_scope=ReplaceScope(source=SOURCE),
        )
        first = list_batches(conn).sort_values("id").iloc[0]["finished_at"]
    db = ["--database-url", url, "reference", "import"]
    for kind in ("communes", "departements", "region", "arrondissements", "cantons"):
        if recor_main([*db, str(ADMIN / f"{kind}.geojson"), "--kind", kind]) != 0:
            raise SystemExit(f"could not import {kind}")
    if recor_main([*db, str(ADMIN / "cog-communes.csv"), "--kind", "cog"]) != 0:
        raise SystemExit("could not import the official geographic code")
    return first.isoformat()


def _shoot(browser: Browser, page: Path, target: Path) -> int:
    """Open a map and save a PNG at 0.75 scale (smaller if it passes the size budget)."""
    report = browser.open_map(page)
    if not report.ready or report.exceptions or report.remote_requests:
        raise SystemExit(f"{page.name}: not drawn cleanly: {report}")
    for scale in (0.75, 0.6, 0.5):
        clip = {"x": 0, "y": 0, "width": 1280, "height": 800, "scale": scale}
        data = browser.call("Page.captureScreenshot", {"format": "png", "clip": clip})["data"]
        png = base64.b64decode(data)
        if len(png) < MAX_BYTES:
            break
    target.write_bytes(png)
    return len(png)


def main() -> None:
    """Write ``docs/img/map-<kind>.png`` for every map kind."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = parser.parse_args()
    if not (ADMIN / "communes.geojson").exists():
        raise SystemExit(f"boundaries not found in {ADMIN}")
    admin = os.environ.get("RECOR_TEST_ADMIN_URL", "dbname=postgres")
    name = f"recor_screenshots_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    params = psycopg.conninfo.conninfo_to_dict(admin)
    url = psycopg.conninfo.make_conninfo(**{**params, "dbname": name})
    args.out.mkdir(parents=True, exist_ok=True)
    _database(admin, name, create=True)
    try:
        first = _load(url)
        with tempfile.TemporaryDirectory() as folder, Browser() as browser:
            browser.call(
                "Emulation.setDeviceMetricsOverride",
                {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False},
            )
            for shot, argv in SHOTS.items():
                page = Path(folder) / f"{shot}.html"
                argv = [a.format(first=first) for a in argv]
                if recor_main(["--database-url", url, "map", *argv, "--out", str(page)]) != 0:
                    raise SystemExit(f"recor map {' '.join(argv)} failed")
                target = args.out / f"map-{shot}.png"
                size = _shoot(browser, page, target)
                print(f"{target}  {size / 1000:.0f} kB")
    finally:
        _database(admin, name, create=False)


if __name__ == "__main__":
    main()
