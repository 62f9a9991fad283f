"""The GraceTHD v2.0.1 standard as data: fields, code lists, obligations, thresholds, checks.

Everything here is read from recor's compact copy of the standard
(``recor/ingest/gracethd_data/``, see its README): the model's fields and references, the
code lists, GraceTHD-Check's obligations by phase and network type, its thresholds and its
catalogue of checks. Nothing of the standard is written in code.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = [
    "DEFAULT_NETWORK",
    "PHASES",
    "Field",
    "check_code",
    "check_message",
    "check_sensitivity",
    "code_labels",
    "code_lists",
    "fields",
    "identifier",
    "network_types",
    "obligation",
    "phase_column",
    "sensitivity_label",
    "table_obligation",
    "tables",
    "thresholds",
]

#: Study phases of ``l_statut``, in order.
PHASES: tuple[str, ...] = ("PRE", "DIA", "AVP", "PRO", "ACT", "EXE", "TVX", "REC", "MCO")

#: The network type of GraceTHD-Check's default configuration.
DEFAULT_NETWORK = "DSP AFFERMAGE FTTH"

_PHASE_COLUMNS = {"PRE": "pre", "DIA": "dia", "AVP": "avp", "PRO": "pro_ou_act",
                  "ACT": "pro_ou_act", "EXE": "exe", "TVX": "tvx_ou_rec", "REC": "tvx_ou_rec",
                  "MCO": "mco"}  # fmt: skip


@dataclass(frozen=True)
class Field:
    """One field of a GraceTHD table, as the model's schema declares it."""

    table: str
    name: str
    type: str
    length: int | None
    not_null: bool
    primary_key: bool
    unique: bool
    ref_table: str
    ref_field: str

    @property
    def is_geometry(self) -> bool:
        """True for the ``geom`` field (Point, Linestring or MultiPolygon)."""
        return self.type in {"Point", "Linestring", "MultiPolygon"}


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("recor.ingest").joinpath("gracethd_data", name).read_text("utf-8")
    return list(csv.DictReader(text.splitlines(), delimiter=";"))


@cache
def fields() -> dict[str, tuple[Field, ...]]:
    """Every table of the model → its fields, in the schema's order."""
    out: dict[str, list[Field]] = {}
    for row in _rows("fields.csv"):
        out.setdefault(row["table"], []).append(
            Field(
                table=row["table"],
                name=row["field"],
                type=row["type"],
                length=int(row["length"]) if row["length"] else None,
                not_null=row["not_null"] == "1",
                primary_key=row["primary_key"] == "1",
                unique=row["unique"] == "1",
                ref_table=row["ref_table"],
                ref_field=row["ref_field"],
            )
        )
    return {table: tuple(items) for table, items in out.items()}


def tables() -> tuple[str, ...]:
    """The 33 tables of the model."""
    return tuple(fields())


def identifier(table: str) -> str | None:
    """The single-field primary key of ``table`` (None for link tables keyed on two fields)."""
    keys = [f.name for f in fields().get(table, ()) if f.primary_key]
    return keys[0] if len(keys) == 1 else None


@cache
def code_lists() -> dict[str, frozenset[str]]:
    """Every ``l_*`` list → its codes."""
    out: dict[str, set[str]] = {}
    for row in _rows("lists.csv"):
        out.setdefault(row["list"], set()).add(row["code"])
    return {name: frozenset(codes) for name, codes in out.items()}


@cache
def code_labels() -> dict[str, dict[str, str]]:
    """Every ``l_*`` list → code → its label (``libelle``)."""
    out: dict[str, dict[str, str]] = {}
    for row in _rows("lists.csv"):
        out.setdefault(row["list"], {})[row["code"]] = row["libelle"]
    return out


@cache
def _fillatt() -> dict[tuple[str, str, str], dict[str, str]]:
    return {(r["reseau"], r["nomtable"], r["attribut"]): r for r in _rows("fillatt.csv")}


@cache
def _filltab() -> dict[tuple[str, str], dict[str, str]]:
    return {(r["reseau"], r["nomtable"]): r for r in _rows("filltab.csv")}


def network_types() -> tuple[str, ...]:
    """Network types the configuration has obligations for."""
    return tuple(sorted({r["reseau"] for r in _fillatt().values()}))


def phase_column(phase: str) -> str:
    """The configuration's column for a phase of ``l_statut`` (``PRO`` → ``pro_ou_act``)."""
    return _PHASE_COLUMNS[phase]


def obligation(network: str, table: str, field: str, phase: str) -> str:
    """``O`` mandatory, ``C`` conditional, ``F`` optional, ``N`` not expected, or ``""``."""
    row = _fillatt().get((network, table, field))
    return "" if row is None else row[phase_column(phase)].strip()


def table_obligation(network: str, table: str, phase: str) -> str:
    """``O`` when the table must be delivered (and not empty) at ``phase``."""
    row = _filltab().get((network, table))
    return "" if row is None else row[phase_column(phase)].strip()


@cache
def thresholds() -> dict[str, float]:
    """GraceTHD-Check's thresholds (``ct_1_cbcapamin``, ``ct_1_topotol``, ...) as numbers."""
    out = {}
    for row in _rows("conf.csv"):
        try:
            out[row["nom"]] = float(row["valeur"])
        except ValueError:
            continue
    return out


@cache
def _catalogue() -> dict[str, dict[str, str]]:
    return {r["ct_code"]: r for r in _rows("checks.csv")}


@cache
def _fill_codes() -> dict[tuple[str, str], str]:
    return {
        (r["ct_maintable"], r["ct_att"]): code
        for code, r in _catalogue().items()
        if r["ct_type"] == "R"
    }


def check_code(table: str, field: str, suffix: str = "") -> str:
    """GraceTHD-Check's code for a check: the fill check of a field, or the one of ``suffix``.

    ``check_code("t_cable", "cb_capafo")`` is the code of "cb_capafo is NULL";
    ``check_code("t_cable", "cb_capafo", "s80008")`` the minimum capacity check. Returns ""
    when the catalogue has no such check.
    """
    if not suffix:
        return _fill_codes().get((table, field), "")
    return next(
        (
            c
            for c, r in _catalogue().items()
            if c.endswith(f"_{suffix}") and r["ct_maintable"] == table
        ),
        "",
    )


def check_message(code: str) -> str:
    """The catalogue's message of a check ("" when unknown)."""
    row = _catalogue().get(code)
    return "" if row is None else row["ct_def"].strip()


def check_sensitivity(code: str) -> str:
    """The catalogue's sensitivity (``ct_sensib``) of a check: ``1`` Bloquant, ``2`` Non
    valide, ``3`` A corriger, ``4`` Informatif; "" when the check is unknown."""
    row = _catalogue().get(code)
    return "" if row is None else row["ct_sensib"].strip()


@cache
def _sensitivities() -> dict[str, str]:
    return {r["code"]: r["libelle"] for r in _rows("sensitivities.csv")}


def sensitivity_label(level: str) -> str:
    """The label of a sensitivity level (``l_ct_sensibilite``), "" when unknown."""
    return _sensitivities().get(level, "")
