"""Benchmark of the network map: size, generation time and draw time in headless Chromium.

Budgets (issue 5): the sample network map under 1 MB; the 200,000-segment network map under
15 MB, generated in under 60 s and drawn in under 10 s. Run::

    .venv/bin/python scripts/bench_maps.py [--segments 200000] [--out benchmarks/out]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from recor.maps import network_map
from recor.maps.browser import Browser
from recor.sample import build_sample


def measure(segments: int | None, out: Path, browser: Browser) -> dict[str, float]:
    """Build, write and open the network map of a generated network."""
    delivery = build_sample(segments)
    started = time.perf_counter()
    doc = network_map(delivery.sites, delivery.segments, version="benchmark")
    path = doc.write(out / f"network_{segments or 'sample'}.html")
    generated = time.perf_counter() - started
    report = browser.open_map(path, timeout_s=120)
    if not report.ready or report.console_errors or report.exceptions or report.remote_requests:
        raise SystemExit(f"the map did not open cleanly: {report}")
    browser.screenshot(out / f"network_{segments or 'sample'}.png")
    return {
        "segments": len(delivery.segments),
        "sites": len(delivery.sites),
        "size_mb": path.stat().st_size / 1e6,
        "generate_s": generated,
        "draw_s": report.draw_seconds,
        "features_drawn": sum(report.counts.values()),
    }


def main() -> None:
    """Print one line per network size."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--segments", type=int, default=200_000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"{'network':>10} {'segments':>9} {'sites':>8} {'size MB':>8} {'gen s':>6} {'draw s':>7}")
    with Browser(timeout_s=180) as browser:
        for size in (None, args.segments):
            m = measure(size, args.out, browser)
            print(
                f"{size or 'sample':>10} {m['segments']:9d} {m['sites']:8d} {m['size_mb']:8.2f}"
                f" {m['generate_s']:6.1f} {m['draw_s']:7.1f}"
            )


if __name__ == "__main__":
    main()
