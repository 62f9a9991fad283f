"""The comparison map: what changed between two dates, or what the planned build changes.

Sites and segments added, removed and changed in status are drawn over the later network,
each kind of change with its own colour and dash pattern and its count in the legend; the
sites that gain (or lose) a second path to the core are drawn and counted; the page's
tables give the counts, the figures of both states and every changed element.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import pandas as pd

from recor.config import MapSettings
from recor.coverage import CoverageResult
from recor.domain import SITE_KIND_LABELS_FR, STATUS_LABELS_FR, SiteKind
from recor.maps._common import (
    background_layers,
    bounds_of,
    commune_fields,
    provenance_rows,
    segment_layers,
    site_layers,
    site_search,
    with_commune_details,
)
from recor.maps._fr import number_fr
from recor.maps.compare import CHANGES, PLANNED_BUILD_STATUSES, Comparison, band_change
from recor.maps.document import LayerSpec, MapDocument, make_layer
from recor.maps.styles import status_legend

__all__ = ["CHANGE_STYLES", "comparison_map"]

#: Colour, dash pattern and French words of each kind of change (colours ≥ 3:1 against the
#: map background, told apart by their dashes too).
CHANGE_STYLES: dict[str, dict[str, Any]] = {
    "added": {"color": "#01665e", "dash": None, "segments": "ajoutés", "sites": "ajoutés"},
    "removed": {"color": "#b2182b", "dash": "4 6", "segments": "retirés", "sites": "retirés"},
    "status": {
        "color": "#8c510a",
        "dash": "12 6",
        "segments": "changés d'état",
        "sites": "changés d'état",
    },
}
_CHANGE_FR = {"added": "ajouté", "removed": "retiré", "status": "changement d'état"}
_PLANNED_FR = {"status": "mis en service par la construction prévue"}
_GAINED = {"color": "#5e3c99", "fillColor": "#b2abd2"}
_LOST = {"color": "#e66101", "fillColor": "#fdb863"}
_PASSIVE = (SiteKind.CHAMBER.value, SiteKind.JUNCTION.value)

#: What "single-homed" means at each level (as on the redundancy map).
_LEVEL_FR = {
    "edge": "une seule coupure de tronçon l'isole du cœur",
    "node": "une seule panne de tronçon ou de site l'isole du cœur",
    "srlg": "une seule panne de tronçon, de site ou de risque partagé l'isole du cœur",
}

_KINDS_FR = {
    "network": "du réseau",
    "coverage": "de la couverture du territoire",
    "redundancy": "de la résilience du réseau",
}


#: Singular and plural of each change, for counts in sentences.
_CHANGE_WORDS = {
    "added": ("ajouté", "ajoutés"),
    "removed": ("retiré", "retirés"),
    "status": ("changé d'état", "changés d'état"),
}


def _count(count: int, singular: str, plural: str) -> str:
    """``1 ajouté``, ``0 ajouté``, ``12 ajoutés`` (French: below 2 is singular)."""
    return f"{number_fr(count)} {singular if count < 2 else plural}"


def _status_fr(value: str | None) -> str | None:
    return None if value is None else STATUS_LABELS_FR.get(value, value)


def _change_rows(frame: gpd.GeoDataFrame, planned: bool) -> gpd.GeoDataFrame:
    out = frame.copy()
    words = {**_CHANGE_FR, **(_PLANNED_FR if planned else {})}
    out["change_fr"] = out["change"].map(words)
    out["before_fr"] = out["status_before"].map(_status_fr)
    out["after_fr"] = out["status_after"].map(_status_fr)
    if "name" not in out:
        out["name"] = out["code"]
    return out


def _change_layers(
    comparison: Comparison, settings: MapSettings
) -> tuple[list[LayerSpec], list[dict[str, Any]]]:
    layers, items = [], []
    fields = [
        ("code", "Code", ""),
        ("change_fr", "Changement", ""),
        ("before_fr", "État avant", "absent"),
        ("after_fr", "État après", "absent"),
    ]
    for entity, noun in (("segments", "Tronçons"), ("sites", "Sites")):
        frame = _change_rows(getattr(comparison, entity), comparison.planned)
        for change in CHANGES:
            style = CHANGE_STYLES[change]
            part = frame[frame["change"] == change]
            word = _PLANNED_FR["status"] if comparison.planned and change == "status" else None
            name = f"{noun} {word or style[entity]}"
            if entity == "segments":
                classes = [{"color": style["color"], "weight": 7, "opacity": 0.85}]
                if style["dash"]:
                    classes[0]["dashArray"] = style["dash"]
                legend = {"color": style["color"], "weight": 6, "dashArray": style["dash"]}
                kind = "line"
            else:
                classes = [
                    {
                        "shape": "circle",
                        "color": style["color"],
                        "fillColor": "#ffffff",
                        "radius": 9,
                        "weight": 3,
                        "fillOpacity": 1,
                    }
                ]
                legend = {"shape": "circle", "color": style["color"], "fillColor": "#ffffff"}
                kind = "point"
            if comparison.planned and change != "status" and part.empty:
                continue
            layers.append(
                make_layer(
                    f"changes-{entity}-{change}",
                    name,
                    part,
                    kind=kind,
                    classes=classes,
                    popup_title="name",
                    popup_fields=fields,
                    tolerance_m=settings.simplify_m,
                )
            )
            items.append({**legend, "label": f"{name} ({number_fr(len(part))})"})
    return layers, items


def _resilience_layers(comparison: Comparison) -> tuple[list[LayerSpec], list[dict[str, Any]]]:
    layers, items = [], []
    for layer_id, name, frame, colours in (
        ("gained", "Sites gagnant un second chemin vers le cœur", comparison.gained, _GAINED),
        ("lost", "Sites perdant leur second chemin vers le cœur", comparison.lost, _LOST),
    ):
        shown = frame.assign(kind_fr=frame["kind"].map(lambda k: SITE_KIND_LABELS_FR.get(k, k)))
        layers.append(
            make_layer(
                layer_id,
                name,
                shown,
                kind="point",
                classes=[
                    {"shape": "circle", "radius": 12, "weight": 4, "fillOpacity": 0.9, **colours}
                ],
                popup_title="name",
                popup_fields=[("code", "Code", ""), ("kind_fr", "Type", "")],
            )
        )
        items.append({"shape": "circle", **colours, "label": f"{name} ({number_fr(len(frame))})"})
    return layers, items


def _figure_cell(value: Any, indicator: str) -> float | int | None:
    if value is None or pd.isna(value):
        return None
    return round(float(value), 1) if "(km)" in indicator else round(float(value))


def _tables(comparison: Comparison) -> list[dict[str, Any]]:
    figures = [
        [
            row.indicator,
            _figure_cell(row.before, row.indicator),
            _figure_cell(row.after, row.indicator),
            None
            if pd.isna(row.before) or pd.isna(row.after)
            else _figure_cell(row.after - row.before, row.indicator),
        ]
        for row in comparison.figures.itertuples(index=False)
    ]
    counts = comparison.counts()
    count_rows = [
        [
            noun,
            *[
                int(
                    counts.loc[
                        (counts["entity"] == entity) & (counts["change"] == c), "count"
                    ].iloc[0]
                )
                for c in CHANGES
            ],
        ]
        for entity, noun in (("segments", "Tronçons"), ("sites", "Sites"))
    ]
    detail = []
    for entity, noun in (("segments", "Tronçon"), ("sites", "Site")):
        frame = _change_rows(getattr(comparison, entity), comparison.planned)
        detail += [
            [
                noun,
                *(
                    None if pd.isna(v) else str(v)
                    for v in (row.code, row.name, row.change_fr, row.before_fr, row.after_fr)
                ),
            ]
            for row in frame.sort_values(["change", "code"]).itertuples(index=False)
        ]
    return [
        {
            "title": "Indicateurs",
            "columns": ["Indicateur", "Avant", "Après", "Écart"],
            "rows": figures,
            "csv": "indicateurs.csv",
            "missing": "inconnu",
        },
        {
            "title": "Changements",
            "columns": ["Élément", "Ajoutés", "Retirés", "Changements d'état"],
            "rows": count_rows,
            "csv": "changements.csv",
        },
        {
            "title": "Détail des changements",
            "columns": ["Élément", "Code", "Nom", "Changement", "État avant", "État après"],
            "rows": detail,
            "csv": "detail_changements.csv",
            "missing": "absent",
        },
    ]


def _units_layer(
    before: CoverageResult, after: CoverageResult, boundaries: Mapping[str, gpd.GeoDataFrame]
) -> tuple[LayerSpec, dict[str, Any]]:
    """Units whose distance band changed: nearer (better served) or farther."""
    if after.unit_kind == "communes":
        units = with_commune_details(after.units, boundaries.get("departements"))
    else:
        units = after.units.assign(detail_fr="maille")
    moved = band_change(before, after)
    units = units.assign(moved=moved)
    units = units[units["moved"] != 0]
    units["moved_fr"] = units["moved"].map(
        lambda m: (
            f"plus proche du réseau de {m} classe(s)"
            if m > 0
            else f"plus loin du réseau de {-m} classe(s)"
        )
    )
    nearer = int((units["moved"] > 0).sum())
    farther = int((units["moved"] < 0).sum())
    noun = "Communes" if after.unit_kind == "communes" else "Mailles"
    classes = [
        {"color": "#01665e", "weight": 1, "fillColor": "#80cdc1", "fillOpacity": 0.6},
        {"color": "#b2182b", "weight": 1, "fillColor": "#f4a582", "fillOpacity": 0.6},
    ]
    layer = make_layer(
        "units-changed",
        f"{noun} dont la distance au réseau change",
        units,
        kind="polygon",
        classes=classes,
        style_class=(units["moved"] < 0).astype(int),
        popup_title="name",
        popup_fields=[
            *(commune_fields(units) if after.unit_kind == "communes" else [("code", "Code", "")]),
            ("moved_fr", "Évolution", ""),
        ],
        data_columns=("detail_fr",),
    )
    legend = {
        "title": f"{noun} : distance au réseau en service",
        "items": [
            {"shape": "area", **{k: classes[0][k] for k in ("color", "fillColor")},
             "label": f"Plus proches du réseau ({number_fr(nearer)})"},
            {"shape": "area", **{k: classes[1][k] for k in ("color", "fillColor")},
             "label": f"Plus loin du réseau ({number_fr(farther)})"},
        ],
    }  # fmt: skip
    return layer, legend


def comparison_map(
    comparison: Comparison,
    sites: gpd.GeoDataFrame,
    segments: gpd.GeoDataFrame,
    *,
    kind: str = "network",
    level: str = "srlg",
    coverage: tuple[CoverageResult, CoverageResult] | None = None,
    boundaries: Mapping[str, gpd.GeoDataFrame] | None = None,
    settings: MapSettings | None = None,
    tiles: str | None = None,
) -> MapDocument:
    """Draw a :class:`~recor.maps.compare.Comparison` over the later network.

    Parameters
    ----------
    comparison
        From :func:`recor.maps.compare.compare`.
    sites, segments
        The later state's frames (EPSG:2154), drawn as the context.
    kind
        ``network``, ``coverage`` or ``redundancy``: the title; with ``coverage`` (the two
        results), the units whose distance band changed are drawn too.
    level
        The resilience level both reports were computed at (``edge``, ``node``, ``srlg``).
    """
    settings = settings or MapSettings()
    boundaries = boundaries or {}
    change_layers, change_items = _change_layers(comparison, settings)
    resilience, resilience_items = _resilience_layers(comparison)
    served = sites[~sites["kind"].astype(str).isin(_PASSIVE)]
    layers = [*background_layers(boundaries, settings)]
    legend: list[dict[str, Any]] = []
    if coverage is not None:
        units, units_legend = _units_layer(*coverage, boundaries)
        layers.append(units)
        legend.append(units_legend)
    layers += [
        *segment_layers(segments, settings),
        *site_layers(served, settings),
        *change_layers,
        *resilience,
    ]
    statuses = [s for s in STATUS_LABELS_FR if (segments["status"] == s).any()]
    legend[:0] = [
        {"title": "Changements", "items": change_items},
        {"title": "Résilience (même définition que recor redundancy)", "items": resilience_items},
    ]
    legend.append(status_legend(statuses))
    counts = comparison.counts().set_index(["entity", "change"])["count"]
    if comparison.planned:
        title = "Réseau RECOR après la construction prévue"
        built = ", ".join(STATUS_LABELS_FR[s].lower() for s in PLANNED_BUILD_STATUSES)
        subtitle = (
            f"{_count(counts['segments', 'status'], 'tronçon', 'tronçons')} et"
            f" {_count(counts['sites', 'status'], 'site', 'sites')} mis en service ({built}) ;"
            f" {_count(len(comparison.gained), 'site gagne', 'sites gagnent')}"
            " un second chemin vers le cœur"
        )
        rows = {
            "Comparaison": "le registre tel qu'il est, puis avec la construction prévue faite",
            "Construction prévue": f"tronçons et sites {built}, supposés en service",
        }
    else:
        title = f"Évolution {_KINDS_FR.get(kind, _KINDS_FR['network'])} RECOR"
        moved = [
            f"{noun} : "
            + ", ".join(
                _count(counts[entity, change], *_CHANGE_WORDS[change]) for change in CHANGES
            )
            for entity, noun in (("segments", "Tronçons"), ("sites", "sites"))
        ]
        subtitle = (
            " ; ".join(moved)
            + f" ; {_count(len(comparison.gained), 'site gagne', 'sites gagnent')}"
            + " un second chemin, "
            + (
                _count(len(comparison.lost), "le perd", "le perdent")
                if len(comparison.lost)
                else "aucun ne le perd"
            )
        )
        rows = {"Comparaison": f"du {comparison.before} au {comparison.after}"}
    rows = {
        "Avant": comparison.before,
        "Après": comparison.after,
        **rows,
        "Mono-raccordé": _LEVEL_FR.get(level, level),
    }
    return MapDocument(
        title=title,
        subtitle=subtitle,
        bounds=bounds_of(segments, sites),
        layers=layers,
        legend=legend,
        provenance=provenance_rows(comparison.after, rows, boundaries),
        table=_tables(comparison),
        search=site_search(layers),
        tiles=tiles,
        max_zoom=settings.max_zoom,
    )
