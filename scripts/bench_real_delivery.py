"""Benchmark: every user command on the bundled sample plus a real FTTH-like delivery.

Builds a throwaway registry, loads the bundled sample and the messy FTTH delivery of the Cher
(``recor/sample_messy.py``, profile ``gis_data/profiles/ftth-cher.yaml``) through ``recor
import``, then runs each command of issue 8's "done when" — summary, route, diverse,
redundancy, whatif, coverage, every map kind internal and public — in a child process under
``/usr/bin/time -v``, with a time limit. Prints wall time, peak memory and exit code of each,
and each as a ratio of ``recor summary`` (the reference measured in the same run). The target:
every command completes in < 180 s and < 3 GB.

Usage: ``python scripts/bench_real_delivery.py [--limit 180] [--keep]``.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

from recor import registry
from recor.sample_messy import build_messy, write_messy

ROOT = Path(__file__).resolve().parent.parent
ADMIN = os.environ.get("RECOR_TEST_ADMIN_URL", "dbname=postgres")
PROFILE = ROOT / "gis_data" / "profiles" / "ftth-cher.yaml"
SAMPLE = ROOT / "gis_data" / "sample" / "recor_sample.gpkg"
_RECOR = "import sys; from recor.cli import main; sys.exit(main())"


def _url(name: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(ADMIN)
    params["dbname"] = name
    return psycopg.conninfo.make_conninfo(**params)


def _admin(statement: sql.Composable) -> None:
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(statement)


def _commands(out: Path) -> list[list[str]]:
    nro, trunk = "THD18:NRO-18033", "THD18:CB-00001"
    commands = [
        ["summary"],
        ["route", nro, "DC-ORLEANS", "--k", "3"],
        ["diverse", nro, "DC-ORLEANS"],
        ["redundancy"],
        ["redundancy", "--level", "edge"],
        ["whatif", "--segment", trunk],
        ["whatif", "--group", "BRIDGE-ORLEANS-LOIRE"],
        ["whatif", "--worst-disk", "5000"],
        ["coverage", "--out", str(out / "coverage")],
    ]
    for level in ("--internal", "--public"):
        for kind in ("network", "coverage"):
            commands.append(["map", kind, level, "--out", str(out / f"{kind}{level}.html")])
    commands += [
        ["map", "redundancy", "--out", str(out / "redundancy.html")],
        ["map", "route", "--from", nro, "--to", "DC-ORLEANS", "--out", str(out / "route.html")],
        ["map", "whatif", "--segment", trunk, "--out", str(out / "whatif.html")],
        ["map", "all", "--out", str(out / "all-internal")],
        ["map", "all", "--public", "--out", str(out / "all-public")],
    ]
    return commands


def _measure(url: str, argv: list[str], limit: float) -> tuple[float, float, str]:
    """(wall seconds, peak MB, outcome) of ``recor ARGV`` in a child process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = ["/usr/bin/time", "-v", sys.executable, "-c", _RECOR, "--database-url", url, *argv]
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True,
    )  # fmt: skip
    try:
        _, stderr = child.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)  # the command and /usr/bin/time, nothing else
        child.communicate()
        return limit, float("nan"), f"killed after {limit:.0f} s"
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    assert wall and rss, stderr[-2000:]
    seconds = int(wall.group(1) or 0) * 3600 + int(wall.group(2)) * 60 + float(wall.group(3))
    said = stderr.split("\tCommand being timed")[0].strip().splitlines()
    lines = [line for line in said if line.startswith("recor:")] or said[-1:] or [""]
    outcome = "ok" if child.returncode == 0 else f"exit {child.returncode}: {lines[-1][:70]}"
    return seconds, int(rss.group(1)) / 1024, outcome


def main() -> None:
    """Build the registry, load, run and measure every command, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=float, default=180.0, help="seconds per command")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args()
    name = f"recor_bench_real_{uuid.uuid4().hex[:8]}"
    _admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = _url(name)
    try:
        with registry.connect(url, autocommit=True) as conn:
            registry.upgrade(conn)
        with tempfile.TemporaryDirectory(prefix="recor-bench-real-") as tmp:
            files = write_messy(build_messy(), Path(tmp) / "messy")
            loads = [
                ["import", str(SAMPLE), "--quiet"],
                ["import", str(files["gpkg"]), str(files["geojson"]), "--profile",
                 str(PROFILE), "--quiet"],
            ]  # fmt: skip
            rows = [(argv, *_measure(url, argv, args.limit)) for argv in loads]
            rows += [(argv, *_measure(url, argv, args.limit)) for argv in _commands(Path(tmp))]
        reference = next(r[1] for r in rows if r[0] == ["summary"])
        print(f"{'command':58} {'wall s':>8} {'× summary':>10} {'peak MB':>8}  outcome")
        for argv, seconds, mb, outcome in rows:
            label = " ".join(a if len(a) < 40 else "…" + a[-20:] for a in argv)[:58]
            print(f"{label:58} {seconds:8.1f} {seconds / reference:10.1f} {mb:8.0f}  {outcome}")
        failed = [r for r in rows if r[3] != "ok" or r[1] >= args.limit or r[2] >= 3072]
        print(f"{len(rows) - len(failed)} of {len(rows)} within {args.limit:.0f} s and 3 GB")
    finally:
        if not args.keep:
            _admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


if __name__ == "__main__":
    main()
