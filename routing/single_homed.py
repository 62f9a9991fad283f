"""Which sites hang on a single point of failure, and where a new link would fix them.

Run: python routing/single_homed.py [--top 10] [--level edge|node|srlg] [--core SITE ...]
     [--status ...|--all-statuses] [--as-of ISO_TIME] [--database-url URL]
Reads the registry (RECOR_DATABASE_URL or libpq's environment, like the recor command).
"""

from __future__ import annotations

import argparse
import sys

from recor.errors import RecorError
from recor.network import LEVELS, redundancy_report
from recor.network.scripting import add_registry_options, graph_of


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=10, help="sites shown (default 10)")
    parser.add_argument("--level", choices=LEVELS, default="srlg")
    parser.add_argument("--core", nargs="+", metavar="SITE", help="core sites (default: DCs)")
    add_registry_options(parser)
    args = parser.parse_args(argv)
    try:
        report = redundancy_report(graph_of(args), core=args.core, level=args.level)
    except RecorError as exc:
        sys.exit(f"single_homed: {exc}")
    print(f"core: {', '.join(report.core)}; level: {report.level}")
    print(f"{len(report.bridges)} bridges, {len(report.articulation_sites)} articulation sites")
    for cut in report.srlg_cuts:
        print(f"shared-risk group {cut.group} cuts off: {', '.join(cut.sites_cut_off) or '-'}")
    for row in report.single_homed.head(args.top).itertuples():
        advice = (
            f"new link to {row.new_build_to} ({row.new_build_km:.1f} km)"
            if row.new_build_to is not None
            else "no single new link gives a second path"
        )
        paths = getattr(row, f"{args.level}_paths")
        print(f"{row.code:28s} serves {row.served:3d}  {paths} path(s)  {advice}")
    print(f"data: {report.provenance.label()}")


if __name__ == "__main__":
    main(sys.argv[1:])
