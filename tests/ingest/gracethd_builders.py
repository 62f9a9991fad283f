"""A small GraceTHD v2 delivery written by filling copies of the official empty templates.

N1 (NRO) --CM1-- N2 (chamber) --CM2-- N3 (chamber)
duct CD1 runs through CM1 and CM2; cables CB1 (48 fo, 12 used) and CB2 (24 fo) in CD1.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

N1, N2, N3 = (619_000.0, 6_755_000.0), (620_000.0, 6_755_000.0), (620_000.0, 6_756_000.0)


def gracethd_tables(phase: str = "EXE") -> dict[str, list[dict]]:
    """Rows of each table (geometry under ``geometry``), as a contractor fills them."""
    return {
        "t_noeud": [
            {
                "nd_code": "ND1",
                "nd_nom": "NRO Orléans",
                "nd_type": "ST",
                "geometry": shapely.Point(N1),
            },
            {
                "nd_code": "ND2",
                "nd_nom": "Chambre Saran",
                "nd_type": "PT",
                "geometry": shapely.Point(N2),
            },
            {
                "nd_code": "ND3",
                "nd_nom": "Chambre Fleury",
                "nd_type": "PT",
                "geometry": shapely.Point(N3),
            },
        ],
        "t_cheminement": [
            {
                "cm_code": "CM1",
                "cm_ndcode1": "ND1",
                "cm_ndcode2": "ND2",
                "cm_statut": phase,
                "cm_avct": "E",
                "cm_typ_imp": "7",
                "cm_typelog": "TR",
                "cm_long": 1000.0,
                "cm_prop_do": "Région",
                "geometry": shapely.LineString([N1, N2]),
            },
            {
                "cm_code": "CM2",
                "cm_ndcode1": "ND2",
                "cm_ndcode2": "ND3",
                "cm_statut": phase,
                "cm_avct": "E",
                "cm_typ_imp": "0",
                "cm_typelog": "TR",
                "cm_long": 1000.0,
                "cm_prop_do": "Région",
                "geometry": shapely.LineString([N2, N3]),
            },
        ],
        "t_sitetech": [
            {
                "st_code": "ST1",
                "st_nd_code": "ND1",
                "st_nom": "NRO d'Orléans",
                "st_statut": phase,
                "st_avct": "E",
                "st_typelog": "NRO",
                "st_gest": "GIP RECIA",
            },
        ],
        "t_conduite": [{"cd_code": "CD1", "cd_statut": phase, "cd_type": "PEHD", "cd_avct": "E"}],
        "t_cable": [
            {
                "cb_code": "CB1",
                "cb_nd1": "ND1",
                "cb_nd2": "ND3",
                "cb_statut": phase,
                "cb_avct": "E",
                "cb_typephy": "C",
                "cb_capafo": "48",
                "cb_fo_util": "12",
                "cb_rf_code": "RF48",
            },
            {
                "cb_code": "CB2",
                "cb_nd1": "ND1",
                "cb_nd2": "ND3",
                "cb_statut": phase,
                "cb_avct": "E",
                "cb_typephy": "C",
                "cb_capafo": "24",
                "cb_fo_util": "0",
                "cb_rf_code": "RF24",
            },
        ],
        "t_cab_cond": [
            {"cc_cb_code": "CB1", "cc_cd_code": "CD1"},
            {"cc_cb_code": "CB2", "cc_cd_code": "CD1"},
        ],
        "t_cond_chem": [
            {"dm_cd_code": "CD1", "dm_cm_code": "CM1"},
            {"dm_cd_code": "CD1", "dm_cm_code": "CM2"},
        ],
        "t_cableline": [
            {"cl_code": "CL1", "cl_cb_code": "CB1", "geometry": shapely.LineString([N1, N2, N3])},
        ],
    }


def write_gracethd(templates: Path, folder: Path, tables: dict[str, list[dict]]) -> Path:
    """Copy the empty templates to ``folder`` and fill the given tables; returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for item in templates.iterdir():
        shutil.copy(item, folder / item.name)
    for name, rows in tables.items():
        if (templates / f"{name}.shp").exists():
            info = pyogrio.read_info(templates / f"{name}.shp")
            frame = pd.DataFrame(rows, columns=[*info["fields"], "geometry"])
            for field, dtype in zip(info["fields"], info["dtypes"], strict=True):
                if dtype in {"float64", "int64"}:
                    frame[field] = pd.to_numeric(frame[field]).astype("float64")
                else:
                    frame[field] = frame[field].astype(object)
            for suffix in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
                (folder / f"{name}{suffix}").unlink(missing_ok=True)
            gdf = gpd.GeoDataFrame(frame, geometry="geometry", crs=2154)
            pyogrio.write_dataframe(gdf, folder / f"{name}.shp", encoding="UTF-8")
        else:
            header = (
                (templates / f"{name}.csv").read_text(encoding="utf-8").splitlines()[0].split(";")
            )
            pd.DataFrame(rows, columns=header).to_csv(folder / f"{name}.csv", sep=";", index=False)
    return folder
