"""Benchmark of the planned-build comparison map against the network map (not a test).

Generates the sample network at ``--segments`` (default 200,000) in memory, makes it a
registry snapshot (no database: this measures the map, not the read), then writes, in the
same process and run, the network map (the reference) and the planned-build comparison map
(``build_planned_map``: two graphs, two resilience reports, the changes, the page). Prints
wall and CPU time of each, their ratio, the page sizes, the process's peak memory and the
load average. Run::

    .venv/bin/python scripts/bench_compare.py [--segments 200000]
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pandas as pd

from recor.config import Settings
from recor.maps import build
from recor.maps.document import MapDocument
from recor.registry import RegistrySnapshot
from recor.registry.model import RegistryVersion
from recor.sample import build_sample


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _measure(make: Callable[[], MapDocument]) -> tuple[float, float, int]:
    wall, cpu = time.perf_counter(), _cpu()
    page = make().to_html()
    return time.perf_counter() - wall, _cpu() - cpu, len(page.encode())


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=200_000)
    args = parser.parse_args()
    sample = build_sample(segments=args.segments)
    segments = sample.segments.assign(length_m=sample.segments.length)
    segments["risk_groups"] = [() for _ in range(len(segments))]
    snap = RegistrySnapshot(
        sample.sites, segments, pd.DataFrame(), RegistryVersion(1, datetime.now(UTC))
    )
    settings = Settings()
    reference = _measure(lambda: build.build_network_map(snap, settings, boundaries={}))
    planned = _measure(lambda: build.build_planned_map(snap, settings, kind="network"))
    for name, (wall, cpu, size) in (("network map", reference), ("planned build", planned)):
        print(f"{name:14} {wall:6.1f} s wall {cpu:6.1f} s CPU {size / 1e6:6.2f} MB")
    print(f"ratio (planned / network): {planned[0] / reference[0]:.1f} wall,"
          f" {planned[1] / reference[1]:.1f} CPU")  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of the process (network generation included): {peak:.0f} MB")
    print("load average: " + " ".join(f"{v:.2f}" for v in os.getloadavg()))


if __name__ == "__main__":
    main()
