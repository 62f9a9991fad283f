"""Benchmark of the exports on a generated network, against GDAL in the same run.

Loads the generated network into a throwaway registry, then times ``recor export gpkg``
(read snapshot + write) against ``ogr2ogr -f GPKG`` copying the ``active_sites`` and
``active_segments`` views of the same database, and times the OFDS publication (public
level) and the QGIS project. Reports times and ratios; no target is asserted. Run::

    PGHOST=127.0.0.1 PGUSER=postgres .venv/bin/python scripts/bench_export.py [--segments N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

from recor import registry
from recor.export import gpkg, ofds, qgis
from recor.export.snapshot import read_snapshot
from recor.registry import BatchInfo
from recor.sample import build_sample


def _timed(action) -> tuple[float, object]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def measure(url: str, out: Path) -> dict[str, float]:
    """Time each export and its GDAL reference on the registry at ``url``."""
    params = psycopg.conninfo.conninfo_to_dict(url)
    pg = " ".join(f"{k}={v}" for k, v in params.items())
    reference = out / "ogr2ogr.gpkg"

    def ogr2ogr() -> None:
        for first, view in ((True, "active_sites"), (False, "active_segments")):
            subprocess.run(
                ["ogr2ogr", "-f", "GPKG", *([] if first else ["-update"]), str(reference),
                 f"PG:{pg}", f"recor.{view}", "-nln", view],
                check=True,
            )  # fmt: skip

    times: dict[str, float] = {}
    times["ogr2ogr_gpkg_s"], _ = _timed(ogr2ogr)
    with registry.connect(url) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        times["snapshot_read_s"], snapshot = _timed(lambda: read_snapshot(conn))
        times["gpkg_write_s"], _ = _timed(lambda: gpkg.write_gpkg(snapshot, out / "recor.gpkg"))
        times["ofds_public_s"], _ = _timed(
            lambda: ofds.write_ofds(ofds.ofds_network(snapshot), out / "ofds")
        )
        times["qgis_s"], _ = _timed(
            lambda: qgis.write_qgz(qgis.plan_project(conn), out / "recor.qgz")
        )
        conn.rollback()
    times["gpkg_total_s"] = times["snapshot_read_s"] + times["gpkg_write_s"]
    times["gpkg_ratio"] = times["gpkg_total_s"] / times["ogr2ogr_gpkg_s"]
    return times


def main() -> None:
    """Print the times of one generated network."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--segments", type=int, default=200_000)
    args = parser.parse_args()
    name = f"recor_bench_export_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect("dbname=postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = psycopg.conninfo.make_conninfo("", dbname=name)
    try:
        delivery = build_sample(args.segments)
        with registry.connect(url, autocommit=True) as conn:
            registry.upgrade(conn)
            registry.load_delivery(conn, delivery, BatchInfo(profile="bench"))
        with tempfile.TemporaryDirectory() as folder:
            times = measure(url, Path(folder))
        print(f"{len(delivery.segments)} segments, {len(delivery.sites)} sites")
        for key, value in times.items():
            print(f"{key:>16}: {value:8.2f}")
    finally:
        with psycopg.connect("dbname=postgres", autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


if __name__ == "__main__":
    main()
