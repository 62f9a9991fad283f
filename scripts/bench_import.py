"""Benchmark: ``recor import`` of the generated N-segment Shapefile vs a plain ``ogr2ogr`` load.

Both run in the same session, each in a child process measured with ``/usr/bin/time -v``
(wall time, CPU time user+system, peak resident memory), each into its own throwaway
PostGIS database; the CPU time of the server process each one talks to is measured too
(``/proc/<pid>/stat`` of its backends, the server being on this machine):

* ogr2ogr: ``ogr2ogr -f PostgreSQL --config PG_USE_COPY YES`` of ``sites.shp`` and
  ``segments.shp`` into plain tables (no checks, no history);
* recor: ``recor import shp/ --quiet --report ...`` (reading, validation, snapping, diff,
  history, batch, HTML+CSV report) into a freshly migrated registry;
* then the same import again (nothing changes: no batch is written), answered from the
  input digest of the newest batch, the same with ``--recheck`` (read, checked and diffed
  again), and the undo of the first batch.

``--registry-only`` times the registry side alone: ``registry.load_delivery`` of the prepared
delivery (read and checked once, pickled next to the sample) into a fresh registry, then
``registry.undo_batch`` of that batch, each repetition in a child process and a new database;
wall, client CPU and the CPU of the server backend, medians over ``--repeat`` runs. With
``--baseline DIR`` (another checkout, e.g. ``git archive`` of main) the two codes alternate,
so both are measured in the same minutes.

Usage: ``python scripts/bench_import.py [--segments 200000] [--registry-only [--repeat 5]
[--baseline DIR]]``. The sample is written under ``gis_data/large/`` (ignored by git) and
reused when present.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import uuid
from dataclasses import replace
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
recheck = sys.argv[4:] == ["recheck"]
marks = [("start", time.perf_counter())]
with registry.connect(url) as conn:
    result = import_paths(conn, [shp], user="bench", recheck=recheck,
                          progress=lambda stage: marks.append((stage, time.perf_counter())))
marks.append(("rapport", time.perf_counter()))
findings = result.prepared.findings
write_html(report, findings, title="bench", verdict=str(result.loaded),
           counts=result.summary.counts() if result.summary else None)
write_csv(Path(report).with_suffix(".csv"), findings)
marks.append(("fin", time.perf_counter()))
print("  ".join(f"{a}→{b}: {t2 - t1:.2f} s" for (a, t1), (b, t2) in zip(marks, marks[1:])))
print("status", result.status)
if not result.loaded:
    print(findings.head(20).to_string(), file=sys.stderr)
    sys.exit(1)
"""

#: What ``recor import undo BATCH`` runs, as a child.
_UNDO = """
import sys
from recor import registry
url, batch = sys.argv[1:3]
with registry.connect(url, autocommit=True) as conn:
    summary = registry.undo_batch(conn, int(batch), user="bench")
print("status undo", summary.counts()["segments"])
"""


#: ``load_delivery`` then ``undo_batch`` of a pickled delivery, timed phase by phase, as a
#: child (its ``recor`` is the checkout on its PYTHONPATH); prints one JSON line.
_REGISTRY_ONLY = """
import json, os, pickle, sys, time
from pathlib import Path
from recor import registry
url, pickled = sys.argv[1:3]
with open(pickled, "rb") as f:
    delivery, info = pickle.load(f)
def server(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
out = {"code": str(Path(registry.__file__).resolve().parents[2])}
with registry.connect(url, autocommit=True) as conn:
    registry.upgrade(conn)
    pid = conn.info.backend_pid
    steps = [("load", lambda: registry.load_delivery(conn, delivery, info))]
    steps.append(("undo", lambda: registry.undo_batch(conn, out["batch"], user="bench")))
    for name, step in steps:
        wall, cpu, srv = time.perf_counter(), time.process_time(), server(pid)
        summary = step()
        out[name] = (time.perf_counter() - wall, time.process_time() - cpu, server(pid) - srv)
        out.setdefault("batch", summary.batch_id)
print(json.dumps(out))
"""


class _ServerCpu:
    """CPU seconds (user+system) of the server processes serving one database.

    Polls ``pg_stat_activity`` and ``/proc/<pid>/stat`` while a child runs; a backend's
    last reading before it exits is kept (short polls: the end of a backend's life is the
    only part missed).
    """

    def __init__(self, database: str) -> None:
        self.database = database
        self.seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> _ServerCpu:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def seconds(self) -> float:
        """CPU seconds of the backends seen."""
        return sum(self.seen.values())

    def _poll(self) -> None:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            while not self._stop.wait(0.05):
                pids = conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.database,)
                ).fetchall()
                for (pid,) in pids:
                    try:
                        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                    except OSError:
                        continue
                    ticks = int(fields[11]) + int(fields[12])
                    self.seen[pid] = ticks / os.sysconf("SC_CLK_TCK")


def _timed(command: list[str], database: str) -> tuple[float, float, float, float, str]:
    """Run a command under /usr/bin/time -v.

    Returns wall seconds, CPU seconds of the command, CPU seconds of the server processes
    serving ``database``, peak RSS MB, stdout.
    """
    with _ServerCpu(database) as server:
        done = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(
            f"failed ({done.returncode}): {' '.join(command)}\n{done.stdout}\n{done.stderr[-3000:]}"
        )
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", done.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    user = re.search(r"User time \(seconds\): ([\d.]+)", done.stderr)
    system = re.search(r"System time \(seconds\): ([\d.]+)", done.stderr)
    assert wall and rss and user and system, done.stderr
    seconds = int(wall.group(1) or 0) * 3600 + int(wall.group(2)) * 60 + float(wall.group(3))
    cpu = float(user.group(1)) + float(system.group(1))
    return seconds, cpu, server.seconds, int(rss.group(1)) / 1024, done.stdout


def _line(label: str, run: tuple[float, float, float, float, str]) -> str:
    wall, cpu, server, rss, _ = run
    return (
        f"{label:22} {wall:7.2f} s wall  {cpu:6.2f} s CPU  + server {server:6.2f} s CPU"
        f"  {rss:6.0f} MB peak"
    )


def _prepared(folder: Path) -> Path:
    """The sample's delivery and batch provenance, read and checked once, pickled."""
    pickled = folder / "registry_delivery.pkl"
    if not pickled.exists():
        from recor.ingest.pipeline import prepare_import

        print(f"preparing the delivery of {folder / 'shp'} ...", flush=True)
        prepared = prepare_import([folder / "shp"])
        delivery = prepared.delivery
        assert delivery is not None, prepared.findings.head(20)
        # Read-only mappings (empty ``extra`` values, GraceTHD tables) do not pickle.
        frames = {}
        for name in ("sites", "segments", "risk_groups"):
            frame = getattr(delivery, name)
            if frame is not None and "extra" in frame:
                frame = frame.assign(extra=[dict(v) for v in frame["extra"]])
            frames[name] = frame
        if delivery.gracethd_tables is not None:
            frames["gracethd_tables"] = dict(delivery.gracethd_tables)
        delivery = replace(delivery, **frames)
        part = pickled.with_suffix(".part")
        part.write_bytes(pickle.dumps((delivery, prepared.batch_info(user="bench"))))
        part.rename(pickled)
    return pickled


def _phase(name: str, wall: float, cpu: float, server: float) -> str:
    return f"{name} {wall:5.2f} s wall ({cpu:.2f} + server {server:.2f} s CPU)"


def _registry_only(folder: Path, repeat: int, baseline: Path | None) -> None:
    """Time load_delivery and undo_batch alone, alternating with a baseline checkout."""
    pickled = _prepared(folder)
    codes = [("after", ROOT)] if baseline is None else [("before", baseline), ("after", ROOT)]
    runs: dict[str, list[dict[str, list[float]]]] = {label: [] for label, _ in codes}
    for n in range(repeat):
        # ABBA order: neither code always runs right after the other's database is dropped.
        for label, checkout in codes if n % 2 == 0 else codes[::-1]:
            database = f"bench_registry_{uuid.uuid4().hex[:6]}"
            _database(database)
            try:
                env = {**os.environ, "PYTHONPATH": str(checkout)}
                done = subprocess.run(
                    [sys.executable, "-c", _REGISTRY_ONLY, _url(database), str(pickled)],
                    capture_output=True, text=True, env=env, check=False,
                    cwd=checkout,  # ``python -c`` imports from its directory first
                )  # fmt: skip
                if done.returncode != 0:
                    sys.exit(f"{label} failed:\n{done.stderr[-3000:]}")
                run = json.loads(done.stdout.strip().splitlines()[-1])
                assert Path(run["code"]) == checkout.resolve(), f"{label} ran {run['code']}"
            finally:
                _database(database, drop=True)
            runs[label].append(run)
            phases = "  ".join(_phase(p, *run[p]) for p in ("load", "undo"))
            print(
                f"run {n + 1} {label:6}  {phases}  load average {os.getloadavg()[0]:.2f}",
                flush=True,
            )
    for label, _ in codes:
        parts = []
        for phase in ("load", "undo"):
            wall, cpu, server = (
                statistics.median(r[phase][i] for r in runs[label]) for i in range(3)
            )
            parts.append(_phase(phase, wall, cpu, server))
        print(f"median of {repeat} {label:6}  " + "  ".join(parts))
    load = os.getloadavg()
    print(f"load average (1, 5, 15 min) at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


def main() -> None:
    """Generate (or reuse) the sample, run both loads, print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=200_000)
    parser.add_argument(
        "--first-only",
        action="store_true",
        help="measure the first import only (no re-import, no undo)",
    )
    parser.add_argument(
        "--registry-only",
        action="store_true",
        help="time load_delivery and undo_batch of the prepared delivery only",
    )
    parser.add_argument("--repeat", type=int, default=5, help="runs of --registry-only")
    parser.add_argument(
        "--baseline", type=Path, help="another checkout timed alternately (--registry-only)"
    )
    args = parser.parse_args()
    folder = ROOT / "gis_data" / "large" / f"sample_{args.segments}"
    shp = folder / "shp"
    if not (shp / "segments.shp").exists():
        print(f"generating the {args.segments:,}-segment sample in {folder} ...", flush=True)
        write_sample(build_sample(segments=args.segments), folder)
    if args.registry_only:
        _registry_only(folder, args.repeat, args.baseline)
        return
    tag = uuid.uuid4().hex[:6]
    plain, recor_db = f"bench_ogr_{tag}", f"bench_recor_{tag}"
    _database(plain)
    _database(recor_db)
    try:
        with psycopg.connect(_url(plain), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        with registry.connect(_url(recor_db), autocommit=True) as conn:
            registry.upgrade(conn)
        ogr = [0.0, 0.0, 0.0, 0.0]
        for layer in ("sites", "segments"):
            run = _timed(
                ["ogr2ogr", "-f", "PostgreSQL", "--config", "PG_USE_COPY", "YES",
                 f"PG:{_url(plain)}", str(shp / f"{layer}.shp"), "-nln", f"plain_{layer}"],
                plain,
            )  # fmt: skip
            print(_line(f"ogr2ogr {layer}", run), flush=True)
            ogr = [ogr[0] + run[0], ogr[1] + run[1], ogr[2] + run[2], max(ogr[3], run[3])]
        reference = (*ogr, "")
        with tempfile.TemporaryDirectory() as tmp:
            report = str(Path(tmp) / "report.html")
            first = _timed(
                [sys.executable, "-c", _CHILD, _url(recor_db), str(shp), report], recor_db
            )
            again = recheck = None
            if not args.first_only:
                again = _timed(
                    [sys.executable, "-c", _CHILD, _url(recor_db), str(shp), report], recor_db
                )
                recheck = _timed(
                    [sys.executable, "-c", _CHILD, _url(recor_db), str(shp), report, "recheck"],
                    recor_db,
                )
        with registry.connect(_url(recor_db), autocommit=True) as conn:
            loaded = len(registry.read_segments(conn))
            batch = int(registry.list_batches(conn)["id"].max())
        undo = None
        if not args.first_only:
            undo = _timed([sys.executable, "-c", _UNDO, _url(recor_db), str(batch)], recor_db)
        load = os.getloadavg()
        print(_line("ogr2ogr total", reference))
        print(_line("recor import", first) + f"  ({loaded:,} segments)")
        print(f"  recor stages: {first[4].strip()}")
        if again is not None and recheck is not None and undo is not None:
            status = again[4].split("status")[-1].strip()
            print(_line("recor re-import", again) + f"  ({status}, identical files)")
            status = recheck[4].split("status")[-1].strip()
            print(_line("recor re-import --recheck", recheck) + f"  ({status}, read again)")
            print(_line("recor import undo", undo))
        print(
            f"ratio recor/ogr2ogr: {first[0] / ogr[0]:.2f}x wall,"
            f" {first[1] / ogr[1]:.2f}x CPU of the importing process,"
            f" {(first[1] + first[2]) / (ogr[1] + ogr[2]):.2f}x CPU with the server's"
        )
        print(f"load average (1, 5, 15 min) at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    finally:
        _database(plain, drop=True)
        _database(recor_db, drop=True)


if __name__ == "__main__":
    main()
