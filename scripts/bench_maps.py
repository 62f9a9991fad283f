"""Benchmark of every map kind: writing it, then using it in headless Chromium (not a test).

For the bundled sample (the reference, measured in the same run) and the generated
network (``--segments``, default 200,000), each with the real boundaries of Centre-Val de
Loire and the official geographic code, in a throwaway registry:

1. each ``recor map KIND`` runs as a child process: wall time, CPU time (user + system)
   and peak resident memory (``wait4``);
2. each map is opened in headless Chromium (DevTools protocol): time from navigation to
   the first frame painted with every layer built, then a scripted sequence of zooms and
   pans (without animation), each timed until the map is idle (the redraw done and two
   frames painted) and by the CPU time of the page's renderer process during the step
   (``Performance.getMetrics`` ``ProcessTime``: what the step costs whatever else the
   machine runs), and the JS heap (``Runtime.getHeapUsage``) after opening and at the end.

Budgets (issue 11): at 200,000 segments every map writes in < 60 s and < 2 GB, opens in
< 5 s, answers a pan or zoom in < 300 ms, with < 400 MB of JS heap. Run::

    .venv/bin/python scripts/bench_maps.py [--segments 200000] [--out benchmarks/out]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench_coverage import bench_registry, run_child

from recor.maps.browser import Browser

KINDS = ("network", "coverage", "redundancy", "route", "whatif")

#: The interaction script: (label, JavaScript moving the map without animation). Orléans
#: is the densest part of the generated network.
STEPS: tuple[tuple[str, str], ...] = (
    ("zoom 9 Orléans", "map.setView([47.90, 1.91], 9, {animate: false})"),
    ("zoom 11", "map.setZoom(11, {animate: false})"),
    ("zoom 13", "map.setZoom(13, {animate: false})"),
    ("pan 400 px", "map.panBy([400, 0], {animate: false})"),
    ("pan 300 px", "map.panBy([0, 300], {animate: false})"),
    ("zoom 15", "map.setZoom(15, {animate: false})"),
    ("zoom 12", "map.setZoom(12, {animate: false})"),
    ("pan 600 px", "map.panBy([-600, -200], {animate: false})"),
    ("zoom 8 region", "map.setView([47.5, 1.7], 8, {animate: false})"),
    ("pan 300 px at 8", "map.panBy([300, 100], {animate: false})"),
)

_TIMED = """new Promise(function (resolve) {
  var map = window.recorMap.map, started = performance.now();
  %s;
  requestAnimationFrame(function () { requestAnimationFrame(function () {
    resolve(performance.now() - started);
  }); });
})"""


def heap_mb(browser: Browser) -> float:
    """Used JS heap of the page (MB)."""
    return browser.call("Runtime.getHeapUsage")["usedSize"] / 1e6


def renderer_cpu_ms(browser: Browser) -> float:
    """CPU time of the page's renderer process so far (ms): what a step costs, whatever
    else the machine runs."""
    metrics = browser.call("Performance.getMetrics")["metrics"]
    return next(m["value"] for m in metrics if m["name"] == "ProcessTime") * 1000


def use_map(browser: Browser, path: Path) -> dict[str, float]:
    """Open a map, run the interaction script; times in seconds / milliseconds, heap MB."""
    report = browser.open_map(path, timeout_s=180)
    if not report.ready or report.console_errors or report.exceptions or report.remote_requests:
        raise SystemExit(f"{path.name} did not open cleanly: {report}")
    opened_heap = heap_mb(browser)
    browser.call("Performance.enable", {"timeDomain": "threadTicks"})
    steps, cpu = [], []
    for _, script in STEPS:
        before = renderer_cpu_ms(browser)
        steps.append(browser.evaluate(_TIMED % script))
        cpu.append(renderer_cpu_ms(browser) - before)
    browser.call("Performance.disable")
    browser.collect(report)
    if report.console_errors or report.exceptions:
        raise SystemExit(f"{path.name} failed while used: {report}")
    return {
        "open_s": report.draw_seconds,
        "heap_mb": max(opened_heap, heap_mb(browser)),
        "worst_ms": max(steps),
        "median_ms": sorted(steps)[len(steps) // 2],
        "steps": steps,
        "cpu_ms": cpu,
        "worst_cpu_ms": max(cpu),
    }


def write_maps(url: str, pops: list[str], out: Path) -> dict[str, tuple[float, float, float]]:
    """Write each map kind as a child ``recor map``: wall s, CPU s, peak MB."""
    env = {**os.environ, "RECOR_DATABASE_URL": url}
    results = {}
    for kind in KINDS:
        argv = [sys.executable, "-m", "recor", "map", kind, "--out", str(out / f"{kind}.html")]
        if kind == "route":
            argv += ["--from", pops[0], "--to", pops[-1]]
        seconds, cpu, peak, code = run_child(argv, env)
        if code:
            raise SystemExit(f"recor map {kind} failed with exit code {code}")
        results[kind] = (seconds, cpu, peak)
    return results


def main() -> None:
    """Print one line per map kind and network, and the step times."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--segments", type=int, default=200_000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    args = parser.parse_args()
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC {platform.node()}: {os.cpu_count()} cores;"
        f" load average before: {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{'network':>9} {'map':>10} {'wall s':>7} {'cpu s':>6} {'peak MB':>7} {'MB':>5}"
        f" {'open s':>6} {'heap MB':>7} {'median ms':>9} {'worst ms':>8} {'worst cpu ms':>12}"
    )
    for size in (None, args.segments):
        label = "sample" if size is None else f"{size:,}"
        out = args.out / f"bench_maps_{'sample' if size is None else size}"
        out.mkdir(parents=True, exist_ok=True)
        with bench_registry(size) as (url, pops):
            written = write_maps(url, pops, out)
        with Browser(timeout_s=240) as browser:
            for kind in KINDS:
                path = out / f"{kind}.html"
                used = use_map(browser, path)
                seconds, cpu, peak = written[kind]
                print(
                    f"{label:>9} {kind:>10} {seconds:7.1f} {cpu:6.1f} {peak:7.0f}"
                    f" {path.stat().st_size / 1e6:5.1f} {used['open_s']:6.2f}"
                    f" {used['heap_mb']:7.0f} {used['median_ms']:9.0f} {used['worst_ms']:8.0f}"
                    f" {used['worst_cpu_ms']:12.0f}"
                )
                browser.screenshot(out / f"{kind}.png")
                if size is not None:
                    names = [name for name, _ in STEPS]
                    steps = ", ".join(
                        f"{name} {ms:.0f} ({cpu:.0f} CPU)"
                        for name, ms, cpu in zip(names, used["steps"], used["cpu_ms"], strict=True)
                    )
                    print(f"{'':>9} {'':>10} steps (ms): {steps}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
