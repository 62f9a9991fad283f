"""Benchmark of ``recor coverage`` and ``recor map all`` on a dense registry (not a test).

Loads the generated network (``--segments``, default 200,000), the real boundaries of
Centre-Val de Loire (``../shared/data/admin-cvl``: 1,776 commune polygons) and the official
geographic code (1,754 current communes, populations, EPCI) into a throwaway
database, then runs each command as a child process and measures its wall time and peak
resident memory (``wait4``). The reference, measured in the same run, is a child that only
reads the snapshot every command starts from (``registry.snapshot``: sites, segments,
risk groups, boundary layers, official code, version). Budgets (issue 8):
each command < 120 s and < 2 GB. Run::

    .venv/bin/python scripts/bench_coverage.py [--segments 200000] [--out benchmarks/out]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from recor import registry
from recor.cli import main as recor_main
from recor.registry import BatchInfo
from recor.sample import build_sample

ADMIN = Path(__file__).resolve().parents[2] / "shared" / "data" / "admin-cvl"

#: The reference child: read the snapshot every command starts from, nothing else.
READ_SNAPSHOT = (
    "from recor import registry\nwith registry.connect() as conn:\n    registry.snapshot(conn)\n"
)


def run_child(argv: list[str], env: dict[str, str]) -> tuple[float, float, float, int]:
    """Wall seconds, CPU seconds, peak resident MB and exit code of one child process.

    CPU time is what the command costs whatever else the machine runs; wall time is what
    a user waits.
    """
    started = time.perf_counter()
    child = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        sys.stderr.write(child.stderr.read().decode(errors="replace"))
    child.stderr.close()
    cpu = usage.ru_utime + usage.ru_stime
    return elapsed, cpu, usage.ru_maxrss / 1024, child.returncode


def _database(admin: str, name: str, create: bool) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')
        else:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def bench_registry(segments: int | None) -> Iterator[tuple[str, list[str]]]:
    """A throwaway registry with the generated network (``segments``; None: the bundled
    sample) and the real boundaries and official code; yields its URL and the codes of
    its points of presence (for route maps). Dropped on exit."""
    admin = os.environ.get("RECOR_BENCH_ADMIN_URL", "host=127.0.0.1 user=postgres dbname=postgres")
    name = f"recor_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    _database(admin, name, create=True)
    info = psycopg.conninfo.conninfo_to_dict(admin)
    url = f"postgresql://{info.get('user', 'postgres')}@{info.get('host', '127.0.0.1')}/{name}"
    try:
        assert recor_main(["--database-url", url, "db", "init"]) == 0
        delivery = build_sample(segments)
        with registry.connect(url, autocommit=True) as conn:
            registry.load_delivery(conn, delivery, BatchInfo(profile="benchmark"))
        layers = {k: ADMIN / f"{k}.geojson" for k in ("communes", "departements", "region")}
        layers |= {"arrondissements": ADMIN / "arrondissements.geojson"}
        layers |= {"cog": ADMIN / "cog-communes.csv"}
        for kind, path in layers.items():
            command = ["--database-url", url, "reference", "import", str(path), "--kind", kind]
            assert recor_main(command) == 0
        pops = delivery.sites.loc[delivery.sites["kind"] == "pop", "code"].tolist()
        del delivery
        yield url, pops
    finally:
        _database(admin, name, create=False)


def main() -> None:
    """Load, measure, print one line per command."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--segments", type=int, default=200_000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    args = parser.parse_args()
    with bench_registry(args.segments) as (url, _):
        env = {**os.environ, "RECOR_DATABASE_URL": url}
        out = args.out / "bench_coverage"
        out.mkdir(parents=True, exist_ok=True)
        recor = [sys.executable, "-m", "recor"]
        runs = {
            "reference: read the snapshot": [sys.executable, "-c", READ_SNAPSHOT],
            "recor coverage": [*recor, "coverage", "--out", str(out / "coverage")],
            "recor map all": [*recor, "map", "all", "--out", str(out / "maps")],
        }
        print(
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC {platform.node()}: {os.cpu_count()} cores;"
            f" {args.segments:,} segments, 1,776 communes"
        )
        print(f"load average before: {os.getloadavg()[0]:.1f}")
        print(f"{'command':32} {'wall s':>7} {'cpu s':>7} {'cpu ratio':>9} {'peak MB':>8}")
        reference = None
        for label, argv in runs.items():
            seconds, cpu, peak, code = run_child(argv, env)
            if code:
                raise SystemExit(f"{label} failed with exit code {code}")
            reference = reference or cpu
            print(f"{label:32} {seconds:7.1f} {cpu:7.1f} {cpu / reference:9.1f} {peak:8.0f}")
        print(f"load average after: {os.getloadavg()[0]:.1f}")
        sizes = {p.name: p.stat().st_size / 1e6 for p in (out / "maps").glob("*.html")}
        print("map sizes (MB): " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(sizes.items())))


if __name__ == "__main__":
    main()
