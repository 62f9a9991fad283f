"""A primary and a fully independent backup route (no shared segment, site or duct).

Run: python routing/diverse_pair.py [FROM] [TO] [--level edge|node|srlg]
     [--status ...|--all-statuses] [--as-of ISO_TIME] [--database-url URL]
Reads the registry (RECOR_DATABASE_URL or libpq's environment, like the recor command).
Default: PoP Orléans to PoP Tours.
"""

from __future__ import annotations

import argparse
import sys

from recor.errors import RecorError
from recor.network import DISJOINTNESS, diverse_pair
from recor.network.scripting import add_registry_options, graph_of


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", default="POP-ORLEANS", help="site code or name")
    parser.add_argument("target", nargs="?", default="POP-TOURS", help="site code or name")
    parser.add_argument("--level", choices=DISJOINTNESS, default="srlg")
    add_registry_options(parser)
    args = parser.parse_args(argv)
    try:
        pair = diverse_pair(graph_of(args), args.source, args.target, disjointness=args.level)
    except RecorError as exc:
        sys.exit(f"diverse_pair: {exc}")
    for role, route in (("primary", pair.first), ("backup", pair.second)):
        if route is None:
            print(f"{role:8s} none: the network offers a single route")
            continue
        print(
            f"{role:8s} {route.length_m / 1000:6.1f} km, free fibres "
            f"{route.free_fibres_label()}: {' > '.join(route.sites)}"
        )
    if pair.achieved:
        print(f"fully diverse; total {pair.total_length_m / 1000:.1f} km; proven: {pair.exact}")
    else:
        print(
            "no fully diverse pair; they share "
            f"segments {pair.shared_segments}, sites {pair.shared_sites}, "
            f"risk groups {pair.shared_risk_groups}"
        )
    print(f"data: {pair.provenance.label()}")


if __name__ == "__main__":
    main(sys.argv[1:])
