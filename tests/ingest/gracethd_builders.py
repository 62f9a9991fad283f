"""A complete, valid GraceTHD v2.0.1 delivery written by filling copies of the official templates.

Every one of the 33 tables has rows; every field of the model is filled (a code of its list,
an existing object for a reference, a value of its type), so the delivery is valid at every
phase; the objects that the rules look at are placed on purpose::

    ND1 (NRO: site ST1, room LT1) --CM1-- ND2 (chamber PT1, closure BP1) --CM2-- ND3 (SUF SF1,
    PTO BP2, address AD1)            ND4 (emission site SE1)
    duct CD1 runs through CM1 and CM2; cables CB1 (48 fo, 12 used) and CB2 (24 fo) in CD1,
    both ND1 → ND3 (cable lines CL1, CL2); ZNRO ⊃ ZSRO ⊃ ZPBO around the three nodes.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

from recor.ingest import gracethd_standard as std

N1, N2, N3, N4 = (
    (619_000.0, 6_755_000.0),
    (620_000.0, 6_755_000.0),
    (620_000.0, 6_756_000.0),
    (618_500.0, 6_755_500.0),
)
_BOX = shapely.box(618_000.0, 6_754_000.0, 621_000.0, 6_757_000.0)


def _key_rows(phase: str) -> dict[str, list[dict]]:
    """The objects and the fields the rules look at; everything else is filled generically."""
    return {
        "t_noeud": [
            {"nd_code": code, "nd_nom": name, "nd_type": kind, "geometry": shapely.Point(xy)}
            for code, name, kind, xy in (
                ("ND1", "NRO Orléans", "ST", N1), ("ND2", "Chambre Saran", "PT", N2),
                ("ND3", "Immeuble Fleury", "SF", N3), ("ND4", "Pylône", "SE", N4),
            )
        ],
        "t_cheminement": [
            {"cm_code": "CM1", "cm_ndcode1": "ND1", "cm_ndcode2": "ND2", "cm_typ_imp": "7",
             "cm_typelog": "TR", "cm_long": 1000.0, "cm_lgreel": 1000.0,
             "geometry": shapely.LineString([N1, N2])},
            {"cm_code": "CM2", "cm_ndcode1": "ND2", "cm_ndcode2": "ND3", "cm_typ_imp": "0",
             "cm_typelog": "TR", "cm_long": 1000.0, "cm_lgreel": 1000.0,
             "geometry": shapely.LineString([N2, N3])},
        ],
        "t_sitetech": [{"st_code": "ST1", "st_nd_code": "ND1", "st_nom": "NRO d'Orléans",
                        "st_typelog": "NRO"}],
        "t_ltech": [{"lt_code": "LT1", "lt_st_code": "ST1"}],
        "t_ptech": [{"pt_code": "PT1", "pt_nd_code": "ND2"}],
        "t_suf": [{"sf_code": "SF1", "sf_nd_code": "ND3", "sf_ad_code": "AD1"}],
        "t_siteemission": [{"se_code": "SE1", "se_nd_code": "ND4"}],
        "t_ebp": [
            {"bp_code": "BP1", "bp_pt_code": "PT1", "bp_lt_code": None, "bp_sf_code": None},
            {"bp_code": "BP2", "bp_pt_code": None, "bp_lt_code": None, "bp_sf_code": "SF1"},
        ],
        "t_adresse": [{"ad_code": "AD1", "ad_nblhab": 1, "ad_nblpro": 0, "ad_nbprhab": 1,
                       "ad_nbprpro": 0, "geometry": shapely.Point(N3)}],
        "t_conduite": [{"cd_code": "CD1", "cd_type": "PEHD"}],
        "t_cable": [
            {"cb_code": "CB1", "cb_nd1": "ND1", "cb_nd2": "ND3", "cb_typephy": "C",
             "cb_capafo": 48, "cb_fo_util": 12, "cb_fo_disp": 36, "cb_rf_code": "RF48"},
            {"cb_code": "CB2", "cb_nd1": "ND1", "cb_nd2": "ND3", "cb_typephy": "C",
             "cb_capafo": 24, "cb_fo_util": 0, "cb_fo_disp": 24, "cb_rf_code": "RF24"},
        ],
        "t_reference": [{"rf_code": "RF48"}, {"rf_code": "RF24"}],
        "t_cab_cond": [{"cc_cb_code": "CB1", "cc_cd_code": "CD1"},
                       {"cc_cb_code": "CB2", "cc_cd_code": "CD1"}],
        "t_cond_chem": [{"dm_cd_code": "CD1", "dm_cm_code": "CM1"},
                        {"dm_cd_code": "CD1", "dm_cm_code": "CM2"}],
        "t_cableline": [
            {"cl_code": "CL1", "cl_cb_code": "CB1", "geometry": shapely.LineString([N1, N2, N3])},
            {"cl_code": "CL2", "cl_cb_code": "CB2", "geometry": shapely.LineString([N1, N2, N3])},
        ],
        "t_znro": [{"zn_code": "ZN1", "zn_nd_code": "ND1", "geometry": _BOX}],
        "t_zsro": [{"zs_code": "ZS1", "zs_nd_code": "ND2", "zs_zn_code": "ZN1",
                    "geometry": _BOX.buffer(-200, join_style="mitre")}],
        "t_zpbo": [{"zp_code": "ZP1", "zp_nd_code": "ND2", "zp_zs_code": "ZS1",
                    "geometry": _BOX.buffer(-400, join_style="mitre")}],
        "t_zdep": [{"zd_code": "ZD1", "zd_nd_code": "ND2", "geometry": _BOX}],
        "t_zcoax": [{"zc_code": "ZC1", "zc_nd_code": "ND1", "geometry": _BOX}],
        "t_empreinte": [{"em_code": "EM1",
                         "geometry": shapely.box(618_990, 6_754_990, 619_010, 6_755_010)}],
        "t_organisme": [{"or_code": "OR1", "or_siren": "130018351"}],
        "t_baie": [{"ba_code": "BA1", "ba_lt_code": "LT1"}],
        "t_tiroir": [{"ti_code": "TI1", "ti_ba_code": "BA1"}],
        "t_equipement": [{"eq_code": "EQ1", "eq_ba_code": "BA1"}],
        "t_cassette": [{"cs_code": "CS1", "cs_bp_code": "BP1"}],
        "t_fibre": [{"fo_code": "FO1", "fo_cb_code": "CB1"},
                    {"fo_code": "FO2", "fo_cb_code": "CB2"}],
        "t_position": [{"ps_code": "PS1", "ps_1": "FO1", "ps_2": "FO2", "ps_cs_code": "CS1"}],
        "t_ropt": [{"rt_id": 1, "rt_code": "RT1", "rt_fo_code": "FO1"}],
        "t_love": [{"lv_id": 1, "lv_cb_code": "CB1", "lv_nd_code": "ND2"}],
        "t_masque": [{"mq_id": 1, "mq_nd_code": "ND2"}],
        "t_document": [{"do_code": "DO1", "do_ref": "DOC-1"}],
        "t_docobj": [{"od_id": 1, "od_do_code": "DO1", "od_codeobj": "ND1"}],
    }  # fmt: skip


def _generic(field: std.Field, row: int, phase: str, tables: dict[str, list[dict]]) -> object:
    """A valid value of ``field``: its list's code, an existing object, a value of its type."""
    if field.ref_table == "l_statut":
        return phase
    if field.ref_table == "l_avancement":
        return "E"
    if field.ref_table.startswith("l_"):
        return sorted(std.code_lists()[field.ref_table])[0]
    if field.ref_table.startswith("t_"):
        targets = tables.get(field.ref_table) or [{}]
        return targets[0].get(field.ref_field)
    if field.type in {"INTEGER", "BIGINT"}:
        return row + 1
    if field.type == "NUMERIC":
        return 1.5
    if field.type == "DATE":
        return "2020-01-01"
    if field.type == "TIMESTAMP":
        return "2020-01-01 00:00:00"
    if field.type == "BOOLEAN":
        return True
    if field.primary_key or field.unique:
        return f"{field.name[:12]}-{row + 1}"[: field.length or 254]
    return field.name[: field.length or 254].upper()


def gracethd_tables(phase: str = "EXE") -> dict[str, list[dict]]:
    """Rows of all 33 tables (geometry under ``geometry``), every field filled, at ``phase``."""
    tables = _key_rows(phase)
    for table, fields in std.fields().items():
        rows = tables.setdefault(table, [{}])
        for number, row in enumerate(rows):
            for item in fields:
                if item.is_geometry or item.name in row:
                    continue
                row[item.name] = _generic(item, number, phase, tables)
    return tables


def _dbf_values(series: pd.Series, dtype: str) -> pd.Series:
    if dtype in {"float64", "int64"}:
        return pd.to_numeric(series).astype("float64")
    if dtype == "bool":
        return series.astype(object)
    if dtype.startswith("datetime64"):
        return pd.to_datetime(series).dt.date.astype(object)
    return series.astype(object)


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
                frame[field] = _dbf_values(frame[field], dtype)
            for suffix in (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qpj"):
                (folder / f"{name}{suffix}").unlink(missing_ok=True)
            gdf = gpd.GeoDataFrame(frame, geometry="geometry", crs=2154)
            pyogrio.write_dataframe(gdf, folder / f"{name}.shp", encoding="UTF-8")
        else:
            header = (
                (templates / f"{name}.csv").read_text(encoding="utf-8").splitlines()[0].split(";")
            )
            frame = pd.DataFrame(rows, columns=header)
            frame.to_csv(folder / f"{name}.csv", sep=";", index=False)
    return folder
