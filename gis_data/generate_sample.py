"""Generate the sample RECOR network as survey deliveries (GeoPackage + Shapefile set).

    python gis_data/generate_sample.py          # the bundled sample, into gis_data/sample/
    python gis_data/generate_sample.py --segments 200000 --out gis_data/large/200k
    python gis_data/generate_sample.py --messy  # a messy FTTH delivery, into gis_data/messy/

Deterministic: the same --seed gives the same files' content. The messy delivery is loaded
on top of the bundled sample with its profile, gis_data/profiles/ftth-cher.yaml.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from recor.sample import build_sample, write_sample
from recor.sample_messy import build_messy, write_messy

HERE = Path(__file__).resolve().parent


def main() -> None:
    """Parse arguments, build, write, print what was written."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=None, help="scale to N segments")
    parser.add_argument("--seed", type=int, default=None, help="random seed")
    parser.add_argument(
        "--messy", action="store_true", help="the messy FTTH delivery of the Cher instead"
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    started = time.perf_counter()
    if args.messy:
        messy = build_messy(seed=18 if args.seed is None else args.seed)
        paths = write_messy(messy, args.out or HERE / "messy")
        counts = f"{len(messy.nro)} NRO, {len(messy.cables)} cables"
    else:
        delivery = build_sample(args.segments, seed=20261128 if args.seed is None else args.seed)
        paths = write_sample(delivery, args.out or HERE / "sample")
        counts = f"{len(delivery.sites)} sites, {len(delivery.segments)} segments"
    print(f"{counts} in {time.perf_counter() - started:.1f} s")
    for kind, path in paths.items():
        print(f"  {kind}: {path}")


if __name__ == "__main__":
    main()
