"""A flood disk on the Loire at Orléans, then the worst 5 km disk anywhere.

Run: python routing/flood_whatif.py [RADIUS_M]
"""

from __future__ import annotations

import sys

from recor.network import circle, graph_from_delivery, what_if, worst_disk_failure
from recor.sample import build_sample

#: Orléans, on the Loire (Lambert-93 metres).
ORLEANS = (618_500.0, 6_756_400.0)


def main(radius_m: float = 3_000.0) -> None:
    graph = graph_from_delivery(build_sample())
    flood = what_if(graph, area=circle(*ORLEANS, radius_m))
    print(f"flood r={radius_m:.0f} m: {len(flood.cut_segments)} segments lost")
    print(f"sites cut off the core: {', '.join(flood.sites_cut_off['code']) or 'none'}")
    worst_reroutes = flood.broken_routes.sort_values("stretch_pct", ascending=False).head(5)
    print(worst_reroutes[["source", "target", "stretch_pct"]].to_string(index=False))
    worst = worst_disk_failure(graph, 5_000.0)
    print(
        f"worst 5 km disk at ({worst.centre.x:.0f}, {worst.centre.y:.0f}) loses "
        f"{worst.value:g} sites (proven optimal: {worst.proven_optimal})"
    )


if __name__ == "__main__":
    main(*(float(a) for a in sys.argv[1:2]))
