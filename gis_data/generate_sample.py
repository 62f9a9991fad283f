"""Generate the sample RECOR network as survey deliveries (GeoPackage + Shapefile set).

    python gis_data/generate_sample.py          # the bundled sample, into gis_data/sample/
    python gis_data/generate_sample.py --segments 200000 --out gis_data/large/200k

Deterministic: the same --seed gives the same files' content.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from recor.sample import build_sample, write_sample

HERE = Path(__file__).resolve().parent


def main() -> None:
    """Parse arguments, build, write, print what was written."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=None, help="scale to N segments")
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--out", type=Path, default=HERE / "sample")
    args = parser.parse_args()
    started = time.perf_counter()
    delivery = build_sample(args.segments, seed=args.seed)
    paths = write_sample(delivery, args.out)
    print(
        f"{len(delivery.sites)} sites, {len(delivery.segments)} segments "
        f"in {time.perf_counter() - started:.1f} s"
    )
    for kind, path in paths.items():
        print(f"  {kind}: {path}")


if __name__ == "__main__":
    main()
