"""SCORAN review pack: network map (internal and public), coverage and resilience maps.

Reads the registry named by ``RECOR_DATABASE_URL`` (or libpq's environment) and writes to
``maps/out/`` (``RECOR_MAPS_OUT_DIR``)::

    .venv/bin/python maps/scoran_review.py
"""

from __future__ import annotations

from pathlib import Path

from recor import registry
from recor.config import Settings
from recor.maps.build import build_network_map, reference_layers, standard_maps


def main() -> None:
    """Write the maps and the coverage CSV files, print their paths."""
    settings = Settings.from_env()
    out = Path(settings.maps.out_dir)
    with registry.connect(settings.database) as conn:
        snap = registry.snapshot(conn)  # the registry read once for every map
    paths = standard_maps(snap, settings, out)
    public = build_network_map(snap, settings, level="public", boundaries=reference_layers(snap))
    paths["network_public"] = public.write(out / "network_public.html")
    for name, path in paths.items():
        print(f"{name:16} {path}")


if __name__ == "__main__":
    main()
