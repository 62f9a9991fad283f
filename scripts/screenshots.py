"""Screenshots of every map kind on the sample, for the README (not a test).

Creates a throwaway registry, loads the bundled sample network, the real boundaries and
official geographic code of Centre-Val de Loire (``../shared/data/admin-cvl``) and a second
survey (the Argenton–Le Blanc line finished, a direct Valençay–Châteauroux link, the
abandoned Beaugency–Mer cable removed) so the registry has a history; writes each map
through the ``recor`` command and photographs it in headless Chromium (offline: every
remote name unresolvable). Each PNG is a 1280 × 800 page reduced to 64 colours, the most
frequent ones at least 16 apart in RGB (every other colour mapped to the nearest of them: a
map has few colours and large flat areas), compressed at zlib level 9; each must stay under
200 kB (each line printed gives the size of Chromium's own PNG beside it). Run::

    .venv/bin/python scripts/screenshots.py [--out docs/img]
"""

from __future__ import annotations

import argparse
import base64
import os
import struct
import tempfile
import time
import uuid
import zlib
from pathlib import Path

import geopandas as gpd
import numpy as np
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
#: Colours kept in each screenshot (the rest mapped to the nearest of them).
COLOURS = 64
#: Least RGB distance between two colours of the palette.
SPREAD = 16

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
    "planned": ["redundancy", "--with-planned", "--as-of", "{first}"],
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


def _unfilter(raw: np.ndarray, width: int, channels: int) -> np.ndarray:
    """Undo the PNG row filters (None, Sub, Up, Average, Paeth) of 8-bit samples."""
    height = raw.shape[0]
    out = np.zeros((height, width * channels), np.int32)
    prev = np.zeros(width * channels, np.int32)
    for y in range(height):
        kind, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        if kind in (0, 2):
            cur = line if kind == 0 else (line + prev) & 255
        else:
            cur = np.zeros_like(line)
            for x in range(width * channels):
                a = int(cur[x - channels]) if x >= channels else 0
                b = int(prev[x])
                c = int(prev[x - channels]) if x >= channels else 0
                if kind == 1:
                    guess = a
                elif kind == 3:
                    guess = (a + b) // 2
                else:
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    guess = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[x] = (line[x] + guess) & 255
        out[y], prev = cur, cur
    return out.reshape(height, width, channels)[:, :, :3].astype(np.uint8)


def _pixels(png: bytes) -> np.ndarray:
    """RGB pixels of an 8-bit RGB or RGBA PNG (what Chromium writes)."""
    pos, idat, header = 8, b"", b""
    while pos < len(png):
        (size,) = struct.unpack(">I", png[pos : pos + 4])
        kind, body = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + size]
        header = body if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
        pos += 12 + size
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    if depth != 8 or colour not in (2, 6):
        raise SystemExit(f"unexpected PNG from Chromium: depth {depth}, colour type {colour}")
    channels = 3 if colour == 2 else 4
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, 1 + width * channels)
    return _unfilter(raw, width, channels)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _palette(by_frequency: np.ndarray) -> np.ndarray:
    """``COLOURS`` colours, most frequent first, each at least ``SPREAD`` apart (RGB
    distance): the shades that anti-aliasing adds collapse onto their colour, and a rare
    but distinct colour (a few red lines) keeps its own entry."""
    chosen = [by_frequency[0]]
    for colour in by_frequency[1:]:
        if len(chosen) == COLOURS:
            break
        if (((np.asarray(chosen) - colour) ** 2).sum(axis=1) >= SPREAD**2).all():
            chosen.append(colour)
    return np.asarray(chosen)


def _indexed_png(pixels: np.ndarray) -> bytes:
    """An 8-bit palette PNG of :func:`_palette`'s colours (others: the nearest)."""
    flat = pixels.reshape(-1, 3).astype(np.int32)
    keys = (flat[:, 0] << 16) | (flat[:, 1] << 8) | flat[:, 2]
    colours, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    rgb = np.stack([(colours >> 16) & 255, (colours >> 8) & 255, colours & 255], axis=1)
    palette = _palette(rgb[np.argsort(-counts, kind="stable")])
    nearest = np.empty(len(colours), np.int64)
    for start in range(0, len(colours), 4096):
        block = rgb[start : start + 4096, None, :] - palette[None]
        nearest[start : start + 4096] = (block**2).sum(axis=2).argmin(axis=1)
    index = nearest[inverse].astype(np.uint8).reshape(pixels.shape[:2])
    height, width = index.shape
    rows = np.concatenate([np.zeros((height, 1), np.uint8), index], axis=1).tobytes()
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0)),
            _chunk(b"PLTE", palette.astype(np.uint8).tobytes()),
            _chunk(b"IDAT", zlib.compress(rows, 9)),
            _chunk(b"IEND", b""),
        )
    )


def _shoot(browser: Browser, page: Path, target: Path) -> tuple[int, int]:
    """Open a map and save it as a small palette PNG; sizes of Chromium's PNG and ours."""
    report = browser.open_map(page)
    if not report.ready or report.exceptions or report.remote_requests:
        raise SystemExit(f"{page.name}: not drawn cleanly: {report}")
    data = browser.call("Page.captureScreenshot", {"format": "png"})["data"]
    original = base64.b64decode(data)
    png = _indexed_png(_pixels(original))
    if len(png) >= MAX_BYTES:
        raise SystemExit(f"{target.name}: {len(png) / 1000:.0f} kB, over the 200 kB budget")
    target.write_bytes(png)
    return len(original), len(png)


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
                original, size = _shoot(browser, page, target)
                print(f"{target}  {size / 1000:.0f} kB (Chromium's PNG: {original / 1000:.0f} kB)")
    finally:
        _database(admin, name, create=False)


if __name__ == "__main__":
    main()
