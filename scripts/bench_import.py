"""Benchmark: ``recor import`` of the generated N-segment Shapefile vs a plain ``ogr2ogr`` load.

Both run in the same session, each in a child process measured with ``/usr/bin/time -v``
(wall time and peak resident memory), each into its own throwaway PostGIS database:

* ogr2ogr: ``ogr2ogr -f PostgreSQL --config PG_USE_COPY YES`` of ``sites.shp`` and
  ``segments.shp`` into plain tables (no checks, no history);
* recor: ``recor import shp/ --quiet --report ...`` (reading, validation, snapping, diff,
  history, batch, HTML+CSV report) into a freshly migrated registry.

Usage: ``python scripts/bench_import.py [--segments 200000] [--keep]``. The sample is
written under ``gis_data/large/`` (ignored by git) and reused when present.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

from recor import registry
from recor.sample import build_sample, write_sample

ROOT = Path(__file__).resolve().parent.parent
ADMIN = os.environ.get("RECOR_TEST_ADMIN_URL", "dbname=postgres")


def _url(name: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(ADMIN)
    params["dbname"] = name
    return psycopg.conninfo.make_conninfo(**params)


def _database(name: str, *, drop: bool = False) -> None:
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        if drop:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        else:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


#: What ``recor import SHP --quiet --report FILE`` runs (recor.cli.imports), as a child.
_CHILD = """
import sys, time
from pathlib import Path
from recor import registry
from recor.ingest.pipeline import import_paths
from recor.ingest.report import write_csv, write_html
url, shp, report = sys.argv[1:4]
marks = [("start", time.perf_counter())]
with registry.connect(url) as conn:
    result = import_paths(conn, [shp], user="bench",
                          progress=lambda stage: marks.append((stage, time.perf_counter())))
marks.append(("rapport", time.perf_counter()))
findings = result.prepared.findings
write_html(report, findings, title="bench", verdict=str(result.loaded),
           counts=result.summary.counts() if result.summary else None)
write_csv(Path(report).with_suffix(".csv"), findings)
marks.append(("fin", time.perf_counter()))
print("  ".join(f"{a}→{b}: {t2 - t1:.2f} s" for (a, t1), (b, t2) in zip(marks, marks[1:])))
if not result.loaded:
    print(findings.head(20).to_string(), file=sys.stderr)
    sys.exit(1)
"""


def _timed(command: list[str]) -> tuple[float, float, str]:
    """Run a command under /usr/bin/time -v: (wall seconds, peak RSS MB, stdout)."""
    done = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(
            f"failed ({done.returncode}): {' '.join(command)}\n{done.stdout}\n{done.stderr[-3000:]}"
        )
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", done.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    assert wall and rss, done.stderr
    seconds = int(wall.group(1) or 0) * 3600 + int(wall.group(2)) * 60 + float(wall.group(3))
    return seconds, int(rss.group(1)) / 1024, done.stdout


def main() -> None:
    """Generate (or reuse) the sample, run both loads, print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=200_000)
    args = parser.parse_args()
    folder = ROOT / "gis_data" / "large" / f"sample_{args.segments}"
    shp = folder / "shp"
    if not (shp / "segments.shp").exists():
        print(f"generating the {args.segments:,}-segment sample in {folder} ...", flush=True)
        write_sample(build_sample(segments=args.segments), folder)
    tag = uuid.uuid4().hex[:6]
    plain, recor_db = f"bench_ogr_{tag}", f"bench_recor_{tag}"
    _database(plain)
    _database(recor_db)
    try:
        with psycopg.connect(_url(plain), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        with registry.connect(_url(recor_db), autocommit=True) as conn:
            registry.upgrade(conn)
        ogr_wall, ogr_rss = 0.0, 0.0
        for layer in ("sites", "segments"):
            wall, rss, _ = _timed(
                ["ogr2ogr", "-f", "PostgreSQL", "--config", "PG_USE_COPY", "YES",
                 f"PG:{_url(plain)}", str(shp / f"{layer}.shp"), "-nln", f"plain_{layer}"]
            )  # fmt: skip
            ogr_wall, ogr_rss = ogr_wall + wall, max(ogr_rss, rss)
            print(f"ogr2ogr {layer:9} {wall:7.2f} s  {rss:7.0f} MB", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            report = Path(tmp) / "report.html"
            recor_wall, recor_rss, stages = _timed(
                [sys.executable, "-c", _CHILD, _url(recor_db), str(shp), str(report)]
            )
        with registry.connect(_url(recor_db), autocommit=True) as conn:
            loaded = len(registry.read_segments(conn))
        print(f"recor import      {recor_wall:7.2f} s  {recor_rss:7.0f} MB  ({loaded:,} segments)")
        print(f"  recor stages: {stages.strip()}")
        print(f"ogr2ogr total     {ogr_wall:7.2f} s  {ogr_rss:7.0f} MB")
        print(f"ratio recor/ogr2ogr: {recor_wall / ogr_wall:.2f}x wall time")
    finally:
        _database(plain, drop=True)
        _database(recor_db, drop=True)


if __name__ == "__main__":
    main()
