"""Shortest and alternative routes between two sites, with their optical budget.

Run: python routing/shortest_route.py [FROM] [TO]   (default: Orléans to Bourges)
Uses the registry when RECOR_DATABASE_URL is set, else the generated sample network.
"""

from __future__ import annotations

import os
import sys

from recor import registry
from recor.network import (
    RouteConstraints,
    graph_from_delivery,
    k_shortest_paths,
    load_graph,
    optical_budget,
)
from recor.sample import build_sample


def network():
    """The in-service network: from the registry if configured, else the sample."""
    if os.environ.get("RECOR_DATABASE_URL"):
        with registry.connect() as conn:
            return load_graph(conn)
    return graph_from_delivery(build_sample())


def main(source: str = "PoP Orléans", target: str = "PoP Bourges") -> None:
    graph = network()
    # three routes, each with at least 12 free fibres on every segment
    routes = k_shortest_paths(
        graph, source, target, 3, constraints=RouteConstraints(min_free_fibres=12)
    )
    budget_db = 45.0  # transceiver power budget, margin included in the loss
    for rank, route in enumerate(routes, start=1):
        loss = optical_budget(route, wavelength_nm=1550, budget_db=budget_db)
        verdict = (
            f"within {budget_db:g} dB budget" if loss.passes else f"over {budget_db:g} dB budget"
        )
        print(
            f"{rank}. {route.length_m / 1000:6.1f} km, {route.joints:2d} joints, "
            f"{loss.total_loss_db:5.1f} dB at 1550 nm ({verdict}): "
            f"{route.source} -> {route.target} via {len(route.segments)} segments"
        )
    print(f"data: {routes[0].provenance.label()}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
