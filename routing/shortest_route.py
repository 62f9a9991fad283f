"""Shortest and alternative routes between two sites, with their optical budget.

Run: python routing/shortest_route.py [FROM] [TO] [--k 3] [--min-free 12] [--budget-db 45]
     [--status ...|--all-statuses] [--as-of ISO_TIME] [--database-url URL]
Reads the registry (RECOR_DATABASE_URL or libpq's environment, like the recor command).
Default: PoP Orléans to PoP Bourges, three routes with at least 12 free fibres each.
"""

from __future__ import annotations

import argparse
import sys

from recor.errors import RecorError
from recor.network import RouteConstraints, k_shortest_paths, optical_budget, shortest_path
from recor.network.scripting import add_registry_options, graph_of


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", default="PoP Orléans", help="site code or name")
    parser.add_argument("target", nargs="?", default="PoP Bourges", help="site code or name")
    parser.add_argument("--k", type=int, default=3, help="number of routes (default 3)")
    parser.add_argument("--min-free", type=int, default=12, help="free fibres on every segment")
    parser.add_argument("--budget-db", type=float, default=45.0, help="transceiver budget (dB)")
    add_registry_options(parser)
    args = parser.parse_args(argv)
    try:
        graph = graph_of(args)
        constraints = RouteConstraints(min_free_fibres=args.min_free)
        routes = k_shortest_paths(graph, args.source, args.target, args.k, constraints=constraints)
        if not routes:
            shortest_path(graph, args.source, args.target, constraints=constraints)  # says why
    except RecorError as exc:
        sys.exit(f"shortest_route: {exc}")
    for rank, route in enumerate(routes, start=1):
        loss = optical_budget(route, wavelength_nm=1550, budget_db=args.budget_db)
        verdict = "within" if loss.passes else "over"
        print(
            f"{rank}. {route.length_m / 1000:6.1f} km, {route.joints:2d} joints, "
            f"{loss.total_loss_db:5.1f} dB at 1550 nm ({verdict} {args.budget_db:g} dB budget), "
            f"free fibres {route.free_fibres_label()}: "
            f"{route.source} -> {route.target} via {len(route.segments)} segments"
        )
    print(f"budget assumes: {'; '.join(loss.assumptions[1:2])}")
    print(f"data: {routes[0].provenance.label()}")


if __name__ == "__main__":
    main(sys.argv[1:])
