"""A flood disk (default: on the Loire at Orléans), then the worst disk anywhere.

Run: python routing/flood_whatif.py [--radius 3000] [--centre X,Y] [--worst 5000]
     [--status ...|--all-statuses] [--as-of ISO_TIME] [--database-url URL]
Reads the registry (RECOR_DATABASE_URL or libpq's environment, like the recor command).
"""

from __future__ import annotations

import argparse
import sys

from recor.errors import RecorError
from recor.network import circle, what_if, worst_disk_failure
from recor.network.scripting import add_registry_options, graph_of

#: Orléans, on the Loire (Lambert-93 metres).
ORLEANS = "618500,6756400"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--radius", type=float, default=3_000.0, help="flood radius (m)")
    parser.add_argument(
        "--centre", type=_point, default=ORLEANS, metavar="X,Y", help="EPSG:2154 metres"
    )
    parser.add_argument("--worst", type=float, default=5_000.0, help="worst-disk radius (m)")
    add_registry_options(parser)
    args = parser.parse_args(argv)
    x, y = args.centre
    try:
        graph = graph_of(args)
        flood = what_if(graph, area=circle(x, y, args.radius))
        worst = worst_disk_failure(graph, args.worst)
    except (RecorError, ValueError) as exc:
        sys.exit(f"flood_whatif: {exc}")
    isolated = flood.core_isolated["code"].tolist()
    print(f"flood r={args.radius:.0f} m: {len(flood.cut_segments)} segments lost")
    print(f"core sites left without a path to the other ones: {', '.join(isolated) or 'none'}")
    print(f"sites cut off the core: {', '.join(flood.sites_cut_off['code']) or 'none'}")
    worst_reroutes = flood.broken_routes.sort_values("stretch_pct", ascending=False).head(5)
    for row in worst_reroutes.itertuples():
        stretch = "no reroute" if row.reroute_target is None else f"+{row.stretch_pct:.0f} %"
        print(f"  {row.source} -> {row.target}: {stretch}")
    print(
        f"worst {args.worst / 1000:g} km disk at ({worst.centre.x:.0f}, {worst.centre.y:.0f}) "
        f"loses {worst.value:g} sites (proven optimal: {worst.proven_optimal})"
    )
    print(f"data: {flood.provenance.label()}")


def _point(text: str) -> tuple[float, float]:
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected X,Y in EPSG:2154 metres") from None
    return x, y


if __name__ == "__main__":
    main(sys.argv[1:])
