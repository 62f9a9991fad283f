"""Benchmark: every user command on the bundled sample plus a real FTTH delivery.

Builds two throwaway registries through ``recor import``: the bundled sample plus the messy
FTTH delivery of the Cher (``recor/sample_messy.py``, profile ``gis_data/profiles/ftth-cher.yaml``),
and the bundled sample plus the real GraceTHD demo delivery after its documented fix
(``tests/gracethd_demo.py``, profile ``gis_data/profiles/gracethd-demo01.yaml``, accepted as a
draft; skipped with a note when ``../shared/data`` is missing). On each it runs every command of
issue 8's "done when" — summary, route, diverse, redundancy, whatif, coverage, every map kind
internal and public — in a child process under ``/usr/bin/time -v``, with a time limit. Prints
wall time, CPU time (user+sys), peak memory and exit code of each, and each wall time as a ratio
of ``recor summary`` on the same registry (the reference measured in the same run), with the
load average before and after. The target: every command completes in < 180 s and < 3 GB.

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
DEMO_PROFILE = ROOT / "gis_data" / "profiles" / "gracethd-demo01.yaml"
SAMPLE = ROOT / "gis_data" / "sample" / "recor_sample.gpkg"
_RECOR = "import sys; from recor.cli import main; sys.exit(main())"


def _url(name: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(ADMIN)
    params["dbname"] = name
    return psycopg.conninfo.make_conninfo(**params)


def _admin(statement: sql.Composable) -> None:
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(statement)


def _commands(
    out: Path, pair: tuple[str, str], trunk: str, statuses: tuple[str, ...] = (),
    maps: tuple[str, str, str] | None = None,
) -> list[list[str]]:  # fmt: skip
    """Every user command. ``pair`` (two sites) and ``trunk`` (a segment) are the delivery's;
    ``statuses`` the options that put them in the graph (the GraceTHD demo is planned); the
    maps take no status option, so ``maps`` = (from, to, cut) in service, default the same."""
    source, target = pair
    map_from, map_to, map_cut = maps or (source, target, trunk)
    commands = [
        ["summary"],
        ["route", source, target, "--k", "3", *statuses],
        ["diverse", source, target, *statuses],
        ["redundancy", *statuses],
        ["redundancy", "--level", "edge", *statuses],
        ["whatif", "--segment", trunk, *statuses],
        ["whatif", "--group", "BRIDGE-ORLEANS-LOIRE"],
        ["whatif", "--worst-disk", "5000"],
        ["coverage", "--out", str(out / "coverage")],
    ]
    for level in ("--internal", "--public"):
        for kind in ("network", "coverage"):
            commands.append(["map", kind, level, "--out", str(out / f"{kind}{level}.html")])
    commands += [
        ["map", "redundancy", "--out", str(out / "redundancy.html")],
        ["map", "route", "--from", map_from, "--to", map_to, "--out", str(out / "route.html")],
        ["map", "whatif", "--segment", map_cut, "--out", str(out / "whatif.html")],
        ["map", "all", "--out", str(out / "all-internal")],
        ["map", "all", "--public", "--out", str(out / "all-public")],
    ]
    return commands


def _measure(url: str, argv: list[str], limit: float) -> tuple[float, float, float, str]:
    """(wall seconds, CPU seconds user+sys, peak MB, outcome) of ``recor ARGV`` in a child."""
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
        return limit, float("nan"), float("nan"), f"killed after {limit:.0f} s"
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    cpu = re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", stderr)
    assert wall and rss and len(cpu) == 2, stderr[-2000:]
    seconds = int(wall.group(1) or 0) * 3600 + int(wall.group(2)) * 60 + float(wall.group(3))
    said = stderr.split("\tCommand being timed")[0].strip().splitlines()
    lines = [line for line in said if line.startswith("recor:")] or said[-1:] or [""]
    outcome = "ok" if child.returncode == 0 else f"exit {child.returncode}: {lines[-1][:70]}"
    return seconds, sum(map(float, cpu)), int(rss.group(1)) / 1024, outcome


def _registry(name: str) -> str:
    _admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = _url(name)
    with registry.connect(url, autocommit=True) as conn:
        registry.upgrade(conn)
    return url


def _bench(url: str, loads: list[list[str]], commands: list[list[str]], limit: float) -> bool:
    """Load, run and measure; print the table; True when every row met the target."""
    rows = [(argv, *_measure(url, argv, limit)) for argv in loads]
    if any(r[4] != "ok" for r in rows):
        for argv, *_, outcome in rows:
            print(f"load {' '.join(argv)[:70]}: {outcome}")
        return False
    rows += [(argv, *_measure(url, argv, limit)) for argv in commands]
    reference = next(r[1] for r in rows if r[0] == ["summary"])
    print(f"{'command':58} {'wall s':>8} {'× summary':>10} {'cpu s':>7} {'peak MB':>8}  outcome")
    for argv, seconds, cpu, mb, outcome in rows:
        label = " ".join(a if len(a) < 40 else "…" + a[-20:] for a in argv)[:58]
        print(f"{label:58} {seconds:8.1f} {seconds / reference:10.1f} {cpu:7.1f} {mb:8.0f}  "
              f"{outcome}")  # fmt: skip
    failed = [r for r in rows if r[4] != "ok" or r[1] >= limit or not r[3] < 3072]
    print(f"{len(rows) - len(failed)} of {len(rows)} within {limit:.0f} s and 3 GB")
    return not failed


def main() -> None:
    """Build the registries, load, run and measure every command, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=float, default=180.0, help="seconds per command")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    args = parser.parse_args()
    tag = uuid.uuid4().hex[:8]
    names = [f"recor_bench_real_{tag}", f"recor_bench_gthd_{tag}"]
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    try:
        with tempfile.TemporaryDirectory(prefix="recor-bench-real-") as tmp:
            files = write_messy(build_messy(), Path(tmp) / "messy")
            print("== bundled sample + messy FTTH delivery of the Cher (ftth-cher.yaml)")
            _bench(
                _registry(names[0]),
                [["import", str(SAMPLE), "--quiet"],
                 ["import", str(files["gpkg"]), str(files["geojson"]), "--profile", str(PROFILE),
                  "--quiet"]],
                _commands(Path(tmp) / "messy-out", ("THD18:NRO-18033", "DC-ORLEANS"),
                          "THD18:CB-00001"),
                args.limit,
            )  # fmt: skip
            print("== bundled sample + GraceTHD demo delivery, fixed, as a draft (gracethd-demo01)")
            sys.path.insert(0, str(ROOT))
            from tests.gracethd_demo import DEMO_ZIP, fix_demo

            if not DEMO_ZIP.exists():
                print(f"not run: {DEMO_ZIP} missing")
                return
            demo = fix_demo(Path(tmp) / "gracethd-demo01")
            _bench(
                _registry(names[1]),
                [["import", str(SAMPLE), "--quiet"],
                 ["import", str(demo), "--profile", str(DEMO_PROFILE), "--quiet"]],
                _commands(Path(tmp) / "gthd-out", ("TCN:ND000180030001", "TCN:ND000180031292"),
                          "TCN:CM000180033570", ("--all-statuses",),
                          maps=("DC-ORLEANS", "DC-TOURS", "SEG-0001")),
                args.limit,
            )  # fmt: skip
    finally:
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if not args.keep:
            for name in names:
                _admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)))  # fmt: skip


if __name__ == "__main__":
    main()
