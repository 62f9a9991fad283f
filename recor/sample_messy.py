"""A "messy" FTTH-like delivery on top of the bundled sample: what real survey data looks like.

A contractor's FTTH model of the Cher (not GraceTHD): NRO sites beside the regional PoPs of six
Cher towns, street cabinets (SRO), dense tree-like distribution branches of chambers and
distribution boxes (PBO), and the cables between them, plus what real deliveries carry and a
profile must not import blindly:

- fibre counts missing on some cables and usage missing on most (unknown, not zero);
- boxes still *planned* (``PROJET``) at the end of cables *in service*;
- deleted chambers (``SUPPRIME``) and abandoned cables (an old cable beside the one that
  replaced it) the profile filters out (``where:``);
- a trench layer and a duct layer drawn along the cables (stray layers: 2 × the cables);
- NRO sites in a GeoJSON file, in WGS84, with nested ``adresse`` objects and arrays;
- one small branch drawn away from everything (a delivery in disconnected parts);
- trunk cables from each NRO to the regional PoP whose end codes are empty: they are tied to
  the registry's PoP by position.

``write_messy(folder)`` writes ``ftth_cher.gpkg`` and ``nro.geojson``; the profile that loads
them is ``gis_data/profiles/ftth-cher.yaml``. Deterministic for a seed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from recor.config import STORAGE_CRS
from recor.sample import TOWNS, _l93, _route, _seed_for

__all__ = ["MESSY_TOWNS", "MessyDelivery", "build_messy", "write_messy"]

#: Cher towns that get an NRO beside their regional PoP.
MESSY_TOWNS = (
    "Bourges", "Vierzon", "Saint-Amand-Montrond", "Mehun-sur-Yèvre", "Aubigny-sur-Nère",
    "Sancerre",
)  # fmt: skip

_STATUS_CODES = {"in_service": "EN SERVICE", "planned": "PROJET", "under_construction": "TRAVAUX"}
_POSE = ("CONDUITE", "CONDUITE", "CONDUITE", "AERIEN", "PLEINE TERRE", "FACADE")


@dataclass
class MessyDelivery:
    """The delivery's layers, in the contractor's own field names."""

    nro: gpd.GeoDataFrame
    layers: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)

    @property
    def cables(self) -> gpd.GeoDataFrame:
        """The cable layer (segments once imported)."""
        return self.layers["cables"]


@dataclass
class _Drawing:
    rng: np.random.Generator
    points: dict[str, list[dict]] = field(default_factory=dict)
    cables: list[dict] = field(default_factory=list)

    def point(self, layer: str, code: str, xy: tuple[float, float], **attributes: object) -> str:
        self.points.setdefault(layer, []).append(
            {"geometry": shapely.Point(np.round(xy, 2)), _layer_key(layer): code, **attributes}
        )
        return code

    def cable(self, a: tuple[str, tuple[float, float]], b: tuple[str, tuple[float, float]],
              status: str, capacity: int | None, *, declared: bool = True) -> str:  # fmt: skip
        code = f"CB-{len(self.cables) + 1:05d}"
        line = _route(a[1], b[1], _seed_for("messy", code))
        used = None
        if capacity is not None and self.rng.random() < 0.4:
            used = int(self.rng.integers(0, capacity // 2 + 1))
        mes = None
        if status == "in_service" and self.rng.random() < 0.7:
            mes = f"{self.rng.integers(1, 28):02d}/{self.rng.integers(1, 13):02d}/"
            mes += str(int(self.rng.integers(2015, 2026)))
        self.cables.append({
            "id_cable": code,
            "extremite_a": a[0] if declared else None,
            "extremite_b": b[0] if declared else None,
            "capacite": capacity,
            "fo_utilisees": used,
            "mode_pose": _POSE[int(self.rng.integers(0, len(_POSE)))],
            "statut": _STATUS_CODES[status],
            "date_mes": mes,
            "proprietaire": "SDE 18",
            "gestionnaire": "Berry Fibre Optique",
            "geometry": line,
        })  # fmt: skip
        return code


def _layer_key(layer: str) -> str:
    """The identifier column of a point layer (``id_pbo``, ``id_chambre``, ...)."""
    return {"chambres": "id_chambre"}.get(layer, f"id_{layer}")


def build_messy(*, seed: int = 18, branches_per_sro: int = 2) -> MessyDelivery:
    """The messy FTTH delivery (about 1,400 cables with the defaults)."""
    drawing = _Drawing(np.random.default_rng(seed))
    nro_rows = []
    for number, town in enumerate(MESSY_TOWNS):
        insee, lat, lon = TOWNS[town]
        pop_xy = _l93(lat, lon)
        angle = drawing.rng.uniform(0, 2 * np.pi)
        nro_xy = (pop_xy[0] + 600 * np.cos(angle), pop_xy[1] + 600 * np.sin(angle))
        nro = f"NRO-{insee}"
        nro_rows.append({
            "id_nro": nro, "nom": f"NRO {town}", "statut": "EN SERVICE", "insee": insee,
            "adresse": {"commune": town, "voie": f"rue du Central {number + 1}"},
            "equipements": ["OLT", "ODF"] if number % 2 else ["ODF"],
            "geometry": shapely.Point(np.round(nro_xy, 2)),
        })  # fmt: skip
        # the trunk to the regional PoP: end codes left empty, the end lies on the PoP
        drawing.cable((nro, nro_xy), ("", pop_xy), "in_service", 288, declared=False)
        _sros(drawing, nro, nro_xy, insee, branches_per_sro)
    _stray_branch(drawing)
    nro = gpd.GeoDataFrame(pd.DataFrame(nro_rows), geometry="geometry", crs=STORAGE_CRS)
    layers = {
        name: gpd.GeoDataFrame(pd.DataFrame(rows), geometry="geometry", crs=STORAGE_CRS)
        for name, rows in drawing.points.items()
    }
    cables = gpd.GeoDataFrame(pd.DataFrame(drawing.cables), geometry="geometry", crs=STORAGE_CRS)
    # old cables replaced by the live ones beside them, still in the contractor's file
    old = cables.iloc[5::97].copy()
    old["id_cable"] = [f"CB-{len(cables) + i + 1:05d}" for i in range(len(old))]
    old["statut"], old["date_mes"] = "ABANDONNE", None
    cables = gpd.GeoDataFrame(pd.concat([cables, old], ignore_index=True), crs=STORAGE_CRS)
    layers["cables"] = cables
    live = cables[cables["statut"] != "ABANDONNE"]
    layers["tranchees"] = gpd.GeoDataFrame(
        {"id_tranchee": [f"TR-{i + 1:05d}" for i in range(len(live))],
         "profondeur_m": 0.8, "geometry": live.geometry.to_numpy()},
        crs=STORAGE_CRS,
    )  # fmt: skip
    layers["fourreaux"] = gpd.GeoDataFrame(
        {"id_fourreau": [f"FR-{i + 1:05d}" for i in range(len(live))],
         "diametre_mm": 42, "geometry": live.geometry.to_numpy()},
        crs=STORAGE_CRS,
    )  # fmt: skip
    return MessyDelivery(nro=nro, layers=layers)


def _sros(
    drawing: _Drawing, nro: str, nro_xy: tuple[float, float], insee: str, branches: int
) -> None:
    rng = drawing.rng
    for s in range(3):
        angle = s * 2 * np.pi / 3 + rng.uniform(-0.4, 0.4)
        distance = rng.uniform(1_500, 3_500)
        xy = (nro_xy[0] + distance * np.cos(angle), nro_xy[1] + distance * np.sin(angle))
        sro = drawing.point("sro", f"SRO-{insee}-{s + 1}", xy, statut="EN SERVICE", insee=insee)
        drawing.cable((nro, nro_xy), (sro, xy), "in_service", 144)
        for branch in range(branches):
            heading = angle + (branch - (branches - 1) / 2) * 1.3 + rng.uniform(-0.2, 0.2)
            _branch(drawing, (sro, xy), heading, f"{insee}-{s + 1}-{branch + 1}", depth=0)


def _branch(
    drawing: _Drawing, start: tuple[str, tuple[float, float]], heading: float, tag: str,
    *, depth: int,
) -> None:  # fmt: skip
    """A distribution branch: chambers and boxes every 250–450 m, forking now and then."""
    rng = drawing.rng
    here = start
    status = "planned" if rng.random() < 0.12 else "in_service"
    for step in range(int(rng.integers(10, 18)) if depth == 0 else int(rng.integers(4, 9))):
        heading += rng.uniform(-0.25, 0.25)
        length = rng.uniform(250, 450)
        xy = (here[1][0] + length * np.cos(heading), here[1][1] + length * np.sin(heading))
        code = f"{tag}-{step + 1:02d}"
        if rng.random() < 0.6:
            # a box still planned at the end of a cable in service: what surveys deliver
            box_status = "PROJET" if rng.random() < 0.08 else _STATUS_CODES[status]
            site = drawing.point("pbo", f"PBO-{code}", xy, statut=box_status, insee=tag[:5],
                                 nb_prises=int(rng.integers(4, 13)))  # fmt: skip
        else:
            etat = "SUPPRIME" if rng.random() < 0.03 else "EN SERVICE"
            site = drawing.point("chambres", f"CH-{code}", xy, etat=etat, insee=tag[:5],
                                 type_chambre=str(rng.choice(["L1T", "L2T", "K2C"])))  # fmt: skip
            if etat == "SUPPRIME":
                # a deleted chamber's replacement stands at the same place
                site = drawing.point("chambres", f"CH-{code}B", xy, etat="EN SERVICE",
                                     insee=tag[:5], type_chambre="L2T")  # fmt: skip
        capacity = None if rng.random() < 0.15 else int(rng.choice([12, 24, 48, 72]))
        drawing.cable(here, (site, xy), status, capacity)
        here = (site, xy)
        if depth == 0 and rng.random() < 0.25:
            _branch(drawing, here, heading + rng.choice([-1.2, 1.2]), f"{code}F", depth=1)


def _stray_branch(drawing: _Drawing) -> None:
    """Two boxes and a cable drawn 8 km from any NRO: tied to nothing."""
    _, lat, lon = TOWNS["Bourges"]
    x, y = _l93(lat, lon)
    a = drawing.point("pbo", "PBO-ISOLE-1", (x + 8_000, y - 8_000), statut="EN SERVICE",
                      insee="18033", nb_prises=6)  # fmt: skip
    b = drawing.point("pbo", "PBO-ISOLE-2", (x + 8_300, y - 8_100), statut="EN SERVICE",
                      insee="18033", nb_prises=6)  # fmt: skip
    drawing.cable((a, (x + 8_000, y - 8_000)), (b, (x + 8_300, y - 8_100)), "in_service", 12)


def write_messy(delivery: MessyDelivery, folder: Path | str) -> dict[str, Path]:
    """Write ``ftth_cher.gpkg`` (every layer but the NRO) and ``nro.geojson`` (WGS84).

    Returns
    -------
    dict
        ``gpkg`` and ``geojson`` → the written files.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    gpkg = folder / "ftth_cher.gpkg"
    gpkg.unlink(missing_ok=True)
    for name, frame in delivery.layers.items():
        pyogrio.write_dataframe(frame, gpkg, layer=name)
    nro = delivery.nro.to_crs(4326)
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [round(p.x, 7), round(p.y, 7)]},
            "properties": {k: v for k, v in row.items() if k != "geometry"},
        }
        for row, p in zip(nro.to_dict("records"), nro.geometry, strict=True)
    ]
    geojson = folder / "nro.geojson"
    geojson.write_text(
        json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
        encoding="utf-8",
    )
    return {"gpkg": gpkg, "geojson": geojson}
