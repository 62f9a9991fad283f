"""``recor demo``: the main job on the bundled sample data."""

from __future__ import annotations

import argparse
from pathlib import Path

from recor.cli.db import print_summary
from recor.config import Settings
from recor.demo import SAMPLE_GPKG, NetworkHighlights, run_demo

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
    if result.network is not None:
        print()
        _print_network(result.network)
    if result.maps:
        print()
        print("Maps:")
        for kind, path in result.maps.items():
            print(f"  {kind:<12} {path}")
    return 0


def _print_network(highlights: NetworkHighlights) -> None:
    pair, budget, report = highlights.pair, highlights.budget, highlights.report
    first = pair.first
    print(f"Route {first.sites[0]} → {first.sites[-1]} (in service):")
    print(f"  shortest   {first.length_m / 1000:7.1f} km, {len(first.segments)} segments, "
          f"{first.joints} joints; loss at {budget.wavelength_nm} nm "
          f"{budget.total_loss_db:.1f} dB incl. {budget.margin_db:.1f} dB margin")  # fmt: skip
    if pair.second is not None:
        shared = ", ".join((*pair.shared_segments, *pair.shared_risk_groups)) or "nothing"
        kind = "fully independent" if pair.achieved else "least shared"
        print(f"  second     {pair.second.length_m / 1000:7.1f} km ({pair.disjointness}-disjoint, "
              f"{kind}; shares {shared})")  # fmt: skip
    else:
        print("  second     none: no other route exists")
    print(f"Redundancy: {len(report.bridges)} bridges, {len(report.articulation_sites)} "
          f"articulation sites, {len(report.srlg_cuts)} shared-risk groups that split the "
          f"network, {len(report.single_homed)} single-homed sites; most served:")  # fmt: skip
    for row in report.single_homed.head(3).itertuples():
        build = f"{row.new_build_km:.1f} km to {row.new_build_to}" if row.new_build_to else "-"
        print(f"  {row.name:<24} serves {row.served:>3} sites; second path: {build}")
