"""Territories of the maps: current communes and EPCI from polygons of another vintage.

The boundary polygons (Admin Express 2018) and the official geographic code (COG, current)
differ: communes have merged since. Each polygon is given the current commune it now belongs
to: its own code when still current, the commune a delegated or associated commune belongs
to, and, for a code that no longer exists at all, the current commune of the same
département it shares the longest border with (reported as such). Current communes are the
union of their polygons (only merged ones are unioned); an EPCI is the union of its member
communes, so no union ever spans the territory.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

__all__ = ["Territory", "label_zoom", "reconcile"]

#: How a polygon was matched to its current commune, as the reconciliation report says it.
MATCH_FR = {
    "current": "même code",
    "commune-deleguee": "commune déléguée de la commune actuelle",
    "commune-associee": "commune associée à la commune actuelle",
    "border": "code disparu du COG : rattachée à la commune voisine de plus longue frontière",
    "none": "code inconnu du COG, sans voisine du même département : laissée seule",
}

#: Population above which a commune is named from a zoom level (regional view: 7-8).
LABEL_ZOOMS: tuple[tuple[int, int], ...] = (
    (50_000, 8),
    (15_000, 9),
    (5_000, 10),
    (1_500, 11),
    (0, 12),
)


@dataclass(frozen=True)
class Territory:
    """Current communes and EPCI, with how the polygons were reconciled.

    ``communes``: ``code``, ``name``, ``departement``, ``population`` (nullable),
    ``epci_code``, ``epci_name``, ``chief_town`` (bool), ``label_zoom``, geometry.
    ``epcis``: ``code``, ``name``, ``type``, ``population`` (sum of members, nullable
    when a member's is unknown), ``communes``, geometry. ``reconciliation``: one row per
    polygon whose code is not a current commune: ``polygon_code``, ``polygon_name``,
    ``current_code``, ``match`` (a key of :data:`MATCH_FR`).
    """

    communes: gpd.GeoDataFrame
    epcis: gpd.GeoDataFrame
    reconciliation: pd.DataFrame

    def summary_fr(self) -> str:
        """One French sentence for the provenance box."""
        counts = self.reconciliation["match"].value_counts()
        parts = [
            f"{int(counts.get(key, 0))} {label}"
            for key, label in (
                ("commune-deleguee", "déléguées"),
                ("commune-associee", "associées"),
                ("border", "codes disparus rattachés par frontière"),
                ("none", "codes inconnus laissés seuls"),
            )
            if counts.get(key, 0)
        ]
        merged = len(self.reconciliation)
        return (
            f"{merged} communes des contours fusionnées depuis"
            + (f" ({', '.join(parts)})" if parts else "")
            + f" ; {len(self.communes)} communes actuelles, {len(self.epcis)} EPCI"
        )


def label_zoom(population: pd.Series, chief_town: pd.Series) -> np.ndarray:
    """Zoom from which each commune is named: chief towns at the regional view (7)."""
    values = pd.to_numeric(population, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    zoom = np.full(len(values), LABEL_ZOOMS[-1][1], dtype=int)
    for threshold, level in reversed(LABEL_ZOOMS):
        zoom[np.nan_to_num(values, nan=-1) >= threshold] = level
    zoom[chief_town.to_numpy(dtype=bool)] = 7
    return zoom


def _border_match(polygons: gpd.GeoDataFrame, orphan: int, candidates: np.ndarray) -> int | None:
    """Position of the candidate sharing the longest border with polygon ``orphan``."""
    geometry = polygons.geometry.values[orphan]
    near = candidates[shapely.intersects(geometry, polygons.geometry.values[candidates])]
    if not len(near):
        return None
    shared = shapely.length(
        shapely.intersection(
            shapely.boundary(geometry), shapely.boundary(polygons.geometry.values[near])
        )
    )
    return int(near[int(np.argmax(shared))])


def _current_codes(polygons: gpd.GeoDataFrame, cog: pd.DataFrame) -> pd.DataFrame:
    """Per polygon, its current commune and how it was matched."""
    current = set(cog.loc[cog["type"] == "commune-actuelle", "code"])
    # a delegated commune may keep its current commune's code: the current one wins
    by_code = cog[cog["type"] != "commune-actuelle"].drop_duplicates("code").set_index("code")
    codes = polygons["code"].astype(str).to_numpy()
    target = np.empty(len(codes), dtype=object)
    match = np.empty(len(codes), dtype=object)
    for i, code in enumerate(codes):
        if code in current:
            target[i], match[i] = code, "current"
        elif code in by_code.index:
            target[i], match[i] = by_code.at[code, "parent"], by_code.at[code, "type"]
    orphans = np.flatnonzero(pd.isna(target))
    settled = np.flatnonzero(pd.notna(target) & np.isin(codes, list(current)))
    for orphan in orphans.tolist():
        same = settled[[codes[s][:2] == codes[orphan][:2] for s in settled]]
        found = _border_match(polygons, orphan, same)
        if found is None:
            target[orphan], match[orphan] = codes[orphan], "none"
        else:
            target[orphan], match[orphan] = codes[found], "border"
    return pd.DataFrame({"polygon_code": codes, "current_code": target, "match": match})


def _chief_towns(cog: pd.DataFrame, arrondissements: gpd.GeoDataFrame | None) -> pd.Series:
    """Chief towns: a rank above 0 in the COG, else the arrondissements' namesakes.

    Admin Express names an arrondissement after its chief town without the article
    ("Blanc" for Le Blanc): both spellings are matched within the département.
    """
    rank = pd.to_numeric(cog["chief_town_rank"], errors="coerce").fillna(0)
    chief = rank > 0
    if chief.any() or arrondissements is None or arrondissements.empty:
        return chief
    names = set()
    for row in arrondissements.itertuples():
        department = str(row.code)[:2]
        for article in ("", "Le ", "La ", "Les ", "L'"):
            names.add((department, f"{article}{row.name}"))
    keys = zip(cog["departement"].astype(str), cog["name"].astype(str), strict=True)
    return pd.Series([key in names for key in keys], index=cog.index)


def reconcile(
    polygons: gpd.GeoDataFrame,
    cog: pd.DataFrame,
    *,
    arrondissements: gpd.GeoDataFrame | None = None,
) -> Territory:
    """Current communes and EPCI from commune polygons and the official geographic code.

    Parameters
    ----------
    polygons
        Commune polygons (``code``, ``name``), any vintage, EPSG:2154.
    cog
        The official geographic code (:func:`recor.registry.reference.read_cog`).
    arrondissements
        Arrondissement polygons, to find chief towns when the code gives no rank.

    Returns
    -------
    Territory
    """
    matched = _current_codes(polygons, cog)
    current = cog[cog["type"] == "commune-actuelle"].set_index("code")
    frame = gpd.GeoDataFrame(matched, geometry=polygons.geometry.values, crs=polygons.crs)
    frame["polygon_name"] = polygons["name"].to_numpy()
    groups = frame.groupby("current_code", sort=True)
    geometry = [
        g.geometry.values[0] if len(g) == 1 else shapely.union_all(g.geometry.values)
        for _, g in groups
    ]
    codes = list(groups.groups)
    known = current.reindex(codes)
    chief = _chief_towns(current.reset_index(), arrondissements)
    chief.index = current.index
    communes = gpd.GeoDataFrame(
        {
            "code": codes,
            "name": known["name"]
            .fillna(pd.Series(frame.groupby("current_code")["polygon_name"].first()))
            .to_numpy(),
            "departement": [str(c)[:2] for c in codes],
            "population": known["population"].astype("Int64").to_numpy(),
            "epci_code": known["epci_code"].to_numpy(),
            "epci_name": known["epci_name"].to_numpy(),
            "chief_town": chief.reindex(codes, fill_value=False).to_numpy(dtype=bool),
        },
        geometry=geometry,
        crs=polygons.crs,
    )
    communes["label_zoom"] = label_zoom(communes["population"], communes["chief_town"])
    report = frame.loc[
        frame["match"] != "current", ["polygon_code", "polygon_name", "current_code", "match"]
    ]
    return Territory(communes, _epcis(communes, cog), pd.DataFrame(report).reset_index(drop=True))


def _epcis(communes: gpd.GeoDataFrame, cog: pd.DataFrame) -> gpd.GeoDataFrame:
    """EPCI as the union of their member communes (those present in the polygons)."""
    members = communes[communes["epci_code"].notna()]
    rows = []
    types = cog.dropna(subset=["epci_code"]).drop_duplicates("epci_code").set_index("epci_code")
    for code, group in members.groupby("epci_code", sort=True):
        population = group["population"]
        rows.append(
            {
                "code": code,
                "name": group["epci_name"].iloc[0],
                "type": types.at[code, "epci_type"] if code in types.index else None,
                "population": pd.NA if population.isna().any() else int(population.sum()),
                "communes": len(group),
                "geometry": shapely.union_all(group.geometry.values),
            }
        )
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=communes.crs) if rows else None
    if frame is None:
        return gpd.GeoDataFrame(
            {"code": [], "name": [], "type": [], "population": [], "communes": []},
            geometry=[],
            crs=communes.crs,
        )
    frame["population"] = frame["population"].astype("Int64")
    return frame
