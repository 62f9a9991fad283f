"""``recor demo``: the main job on the bundled sample data."""

from __future__ import annotations

import argparse
from pathlib import Path

from recor.cli.db import print_summary
from recor.config import Settings
from recor.demo import SAMPLE_GPKG, run_demo

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``demo``."""
    demo = subparsers.add_parser(
        "demo", help="load the bundled sample network, print a summary, write the maps"
    )
    demo.add_argument("--sample", type=Path, default=SAMPLE_GPKG, help="delivery to load")
    demo.add_argument("--out", type=Path, default=None, help="folder of the maps (maps/out)")
    demo.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    kwargs = {"out_dir": args.out} if args.out else {}
    result = run_demo(settings, sample=args.sample, **kwargs)
    imported = result.imported
    if imported.refused:
        print(f"The sample delivery was refused: {imported.prepared.refusal()}")
        return 1
    load = imported.summary
    counts = load.counts() if load else {}
    if load is not None and load.batch_id is not None:
        print(f"Imported {args.sample} as batch {load.batch_id}:")
    else:
        print(f"Nothing new in {args.sample}: the registry already holds it.")
    for entity, numbers in counts.items():
        print(f"  {entity:<12} " + ", ".join(f"{k} {v}" for k, v in numbers.items()))
    print()
    print_summary(result.summary)
    if result.maps:
        print()
        print("Maps:")
        for kind, path in result.maps.items():
            print(f"  {kind:<12} {path}")
    return 0
