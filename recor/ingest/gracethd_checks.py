"""GraceTHD v2.0.1 delivery checks on tables and attributes, from the standard's own data.

Obligations of tables and attributes by phase and network type, field types and lengths,
every code list, every table reference, unique identifiers and cable capacities, as
GraceTHD-Check configures them (:mod:`recor.ingest.gracethd_standard`). The geometric,
business, zone and address rules are in :mod:`recor.ingest.gracethd_geo`. Each finding
carries GraceTHD-Check's code of the same check when there is one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from recor.ingest import gracethd_standard as std
from recor.ingest.findings import Findings
from recor.ingest.rules import Severity

__all__ = [
    "WAIVED",
    "CheckOptions",
    "Draft",
    "as_codes",
    "blank",
    "check_gracethd_tables",
    "delivery_phase",
    "row_phases",
    "statut_field",
]

_INTEGER = {"INTEGER", "BIGINT"}
_TRUE_FALSE = {"t", "f", "true", "false", "0", "1", "oui", "non", "o", "n", "y", "yes", "no"}


#: Appended to the message of a finding waived by a draft acceptance (``gracethd_draft``).
WAIVED = " — dérogé : livraison acceptée en brouillon (gracethd_draft)"

#: Catalogue sensitivities (``ct_sensib``) a draft acceptance may waive: 3, « A corriger ».
#: 1 « Bloquant » and 2 « Non valide » never are; 4 « Informatif » is never an error.
_WAIVABLE_SENSITIVITIES = frozenset({"3"})

#: Fields a draft never waives although the catalogue rates them « A corriger »: a zone's
#: parent zone (left empty, its nesting would not be checked at all, escaping the draft's
#: stated ``zone_tolerance_m``; the same pairs as ``gracethd_geo._ZONES``).
STRUCTURAL_FIELDS = frozenset({("t_zsro", "zs_zn_code"), ("t_zpbo", "zp_zs_code")})
_DRAFT_KEYS = {"reason", "zone_tolerance_m"}


@dataclass(frozen=True)
class Draft:
    """A delivery accepted as a draft (profile option ``gracethd_draft``).

    Waived, i.e. turned into warnings that stay listed: phase obligations (GraceTHD-Check's
    ``r`` fill checks, sensitivity 3 « A corriger ») on fields that are neither a key, nor
    NOT NULL in the model's schema, nor a geometry, nor a zone's parent
    (:data:`STRUCTURAL_FIELDS`); a zone overflowing its parent zone by no more than
    ``zone_tolerance_m`` (``m80014``/``m80015``, also « A corriger »). Nothing else: broken
    references, lists, types, duplicates, declared line ends off their nodes and every recor
    rule still refuse.
    """

    reason: str
    zone_tolerance_m: float = 0.0

    @staticmethod
    def waivable_field(table: str, name: str) -> bool:
        """True when a missing mandatory ``table.name`` may be waived in a draft."""
        item = next((f for f in std.fields().get(table, ()) if f.name == name), None)
        if item is None or item.primary_key or item.not_null or item.is_geometry:
            return False
        if (table, name) in STRUCTURAL_FIELDS:
            return False
        return std.check_sensitivity(std.check_code(table, name)) in _WAIVABLE_SENSITIVITIES

    @staticmethod
    def waivable_check(code: str) -> bool:
        """True when the catalogue's sensitivity of check ``code`` may be waived."""
        return std.check_sensitivity(code) in _WAIVABLE_SENSITIVITIES

    @classmethod
    def from_option(cls, value: object, findings: Findings) -> Draft | None:
        """The ``gracethd_draft`` option: ``{reason: TEXT, zone_tolerance_m: NUMBER}``."""
        if value is None:
            return None
        problem = ""
        if not isinstance(value, Mapping):
            problem = "attendu : {reason: texte, zone_tolerance_m: nombre ≥ 0}"
        elif set(value) - _DRAFT_KEYS:
            problem = f"clés inconnues (connues : {', '.join(sorted(_DRAFT_KEYS))})"
        elif not isinstance(value.get("reason"), str) or not value["reason"].strip():
            problem = "reason obligatoire : pourquoi cette livraison est acceptée en brouillon"
        else:
            tolerance = value.get("zone_tolerance_m", 0)
            if (
                isinstance(tolerance, bool)
                or not isinstance(tolerance, int | float)
                or not (0 <= tolerance < float("inf"))
            ):
                problem = "zone_tolerance_m : un nombre de mètres ≥ 0"
            else:
                return cls(reason=value["reason"].strip(), zone_tolerance_m=float(tolerance))
        findings.add("SRC-PROFILE", f"gracethd_draft : {problem}", field="gracethd_draft",
                     value=str(value))  # fmt: skip
        return None


@dataclass(frozen=True)
class CheckOptions:
    """How to check: network type, phase (None: each object's ``*_statut``), thresholds, and
    a draft acceptance (None: every error refuses)."""

    network: str = std.DEFAULT_NETWORK
    phase: str | None = None
    thresholds: Mapping[str, float] = field(default_factory=std.thresholds)
    draft: Draft | None = None

    @classmethod
    def from_profile(cls, options: Mapping[str, object], findings: Findings) -> CheckOptions:
        """Options from a profile's ``gracethd_network``, ``gracethd_phase``, ``thresholds``,
        ``gracethd_draft``.

        Unknown values become ``SRC-PROFILE`` findings naming what is accepted.
        """
        network = str(options.get("gracethd_network") or std.DEFAULT_NETWORK)
        if network not in std.network_types():
            findings.add(
                "SRC-PROFILE", "type de réseau inconnu de la configuration GraceTHD-Check "
                f"(connus : {', '.join(std.network_types())})",
                field="gracethd_network", value=network,
            )  # fmt: skip
            network = std.DEFAULT_NETWORK
        phase = options.get("gracethd_phase")
        phase = str(phase).upper() if phase else None
        if phase is not None and phase not in std.PHASES:
            findings.add(
                "SRC-PROFILE", f"phase inconnue (l_statut : {', '.join(std.PHASES)})",
                field="gracethd_phase", value=phase,
            )  # fmt: skip
            phase = None
        limits = dict(std.thresholds())
        for name, value in dict(options.get("thresholds") or {}).items():  # type: ignore[call-overload]
            if name not in limits or not isinstance(value, int | float):
                findings.add(
                    "SRC-PROFILE", "seuil inconnu de t_ct_conf ou non numérique "
                    f"(seuils : {', '.join(sorted(limits))})",
                    field="thresholds", value=f"{name}={value}",
                )  # fmt: skip
                continue
            limits[name] = float(value)
        draft = Draft.from_option(options.get("gracethd_draft"), findings)
        return cls(network=network, phase=phase, thresholds=limits, draft=draft)


def as_codes(series: pd.Series) -> pd.Series:
    """Values as code strings: ``7.0`` read from a numeric field is code ``"7"``."""

    def text(value: object) -> str:
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value).strip()

    return series.astype(object).map(text, na_action="ignore").astype(object)


def blank(series: pd.Series) -> np.ndarray:
    """True where a value is missing or only spaces."""
    values = series.to_numpy(dtype=object)
    spaces = np.fromiter(
        (isinstance(v, str) and not v.strip() for v in values), dtype=bool, count=len(values)
    )
    return np.asarray(pd.isna(values), dtype=bool) | spaces


def statut_field(table: str) -> str | None:
    """The ``*_statut`` field of a table (its phase), None when it has none."""
    return next((f.name for f in std.fields().get(table, ()) if f.ref_table == "l_statut"), None)


def delivery_phase(tables: Mapping[str, pd.DataFrame]) -> str | None:
    """The most advanced phase declared by the delivery's objects (None if none is)."""
    order = {p: i for i, p in enumerate(std.PHASES)}
    best = -1
    for table, frame in tables.items():
        statut = statut_field(table)
        if statut and statut in frame and len(frame):
            ranks = as_codes(frame[statut]).map(order).dropna()
            best = max(best, int(ranks.max()) if len(ranks) else -1)
    return std.PHASES[best] if best >= 0 else None


def row_phases(
    tables: Mapping[str, pd.DataFrame], options: CheckOptions, phase: str
) -> dict[str, pd.Series]:
    """Per table, each row's phase: the chosen one, else its ``*_statut``, else ``phase``."""
    out = {}
    for table, frame in tables.items():
        statut = statut_field(table)
        if options.phase is not None or statut is None or statut not in frame:
            out[table] = pd.Series(options.phase or phase, index=frame.index, dtype=object)
            continue
        own = as_codes(frame[statut])
        out[table] = own.where(own.isin(std.PHASES), phase).astype(object)
    return out


def check_gracethd_tables(
    tables: Mapping[str, pd.DataFrame], options: CheckOptions, findings: Findings
) -> str:
    """Run the table and attribute rules on a delivery; returns the delivery's phase.

    ``tables`` holds every delivered ``t_*`` table (possibly empty) with provenance columns
    ``_file``/``_feature`` and ``code``; spatial tables carry their geometry in ``geometry``.
    """
    phase = options.phase or delivery_phase(tables)
    if phase is None:
        findings.add(
            "GTHD-STATUT",
            "aucun objet n'indique sa phase (*_statut) et aucune phase n'est choisie : "
            "contrôles de la phase PRE",
        )
        phase = "PRE"
    for table in std.tables():
        if std.table_obligation(options.network, table, phase) == "O" and not len(
            tables.get(table, ())
        ):
            findings.add(
                "GTHD-TABLE-MISSING",
                f"table {table} absente ou vide, obligatoire en phase {phase} "
                f"(réseau {options.network})",
                file=table,
            )
    phases = row_phases(tables, options, phase)
    for table, frame in tables.items():
        if not len(frame):
            continue
        _check_unknown_fields(table, frame, findings)
        _check_required(table, frame, phases[table], options, findings)
        _check_types(table, frame, findings)
        _check_lists(table, frame, findings)
        _check_duplicates(table, frame, findings)
    _check_references(tables, findings)
    if "t_cable" in tables and len(tables["t_cable"]):
        _check_capacity(tables["t_cable"], options, findings)
    return phase


def _values(frame: pd.DataFrame, name: str) -> pd.Series:
    if name == "geom":
        if "geometry" not in frame:
            return pd.Series(None, index=frame.index, dtype=object)
        geoms = frame["geometry"]
        return geoms.where(~(geoms.isna() | geoms.is_empty), None).astype(object)
    if name in frame:
        return frame[name]
    return pd.Series(None, index=frame.index, dtype=object)


def _check_unknown_fields(table: str, frame: pd.DataFrame, findings: Findings) -> None:
    known = {f.name for f in std.fields()[table]} | {"geometry", "code", "_file", "_feature"}
    for name in (c for c in frame.columns if c not in known):
        findings.add(
            "GTHD-FIELD-UNKNOWN", f"champ absent du modèle GraceTHD v2.0.1 pour {table}",
            file=str(frame["_file"].iloc[0]), field=str(name),
        )  # fmt: skip


def _check_required(
    table: str, frame: pd.DataFrame, phases: pd.Series, options: CheckOptions, findings: Findings
) -> None:
    each = phases.to_numpy(dtype=object)
    for item in std.fields()[table]:
        grid = {p: std.obligation(options.network, table, item.name, p) == "O" for p in std.PHASES}
        mandatory = np.fromiter((grid.get(p, True) for p in each), dtype=bool, count=len(each))
        if not mandatory.any():
            continue
        missing = blank(_values(frame, item.name)) & mandatory
        message = (
            "champ obligatoire en phase " + phases.astype(str)
            + f" (réseau {options.network}) non renseigné"
        )  # fmt: skip
        waived = missing if options.draft and Draft.waivable_field(table, item.name) else None
        if waived is not None:
            findings.add_rows(
                frame, waived, "GTHD-FIELD-REQUIRED", message + WAIVED, field=item.name,
                values="", severity=Severity.WARNING, check=std.check_code(table, item.name),
            )  # fmt: skip
            continue
        findings.add_rows(
            frame, missing, "GTHD-FIELD-REQUIRED", message,
            field=item.name, values="", check=std.check_code(table, item.name),
        )  # fmt: skip


def _check_types(table: str, frame: pd.DataFrame, findings: Findings) -> None:
    for item in std.fields()[table]:
        if item.name not in frame or item.is_geometry:
            continue
        values = frame[item.name]
        text = values.astype(object).where(~pd.Series(blank(values), index=frame.index))
        text = text[text.map(lambda v: isinstance(v, str))].str.strip()
        if not len(text):
            continue
        bad = _unreadable(text, item.type)
        if bad is not None and bad.any():
            mask = frame.index.isin(text.index[bad.to_numpy()])
            findings.add_rows(
                frame, mask, "GTHD-TYPE",
                f"valeur illisible pour un champ {item.type} du modèle", field=item.name,
            )  # fmt: skip
        if item.type == "VARCHAR" and item.length:
            long = frame.index.isin(text.index[(text.str.len() > item.length).to_numpy()])
            findings.add_rows(
                frame, long, "GTHD-TOO-LONG",
                f"plus de {item.length} caractères (VARCHAR({item.length}) du modèle)",
                field=item.name,
            )  # fmt: skip


def _unreadable(text: pd.Series, kind: str) -> pd.Series | None:
    if kind in _INTEGER or kind == "NUMERIC":
        numbers = pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce")
        bad = numbers.isna()
        if kind in _INTEGER:
            bad |= numbers.notna() & (numbers % 1 != 0)
        return bad
    if kind in {"DATE", "TIMESTAMP"}:
        return pd.to_datetime(text, errors="coerce", format="mixed", dayfirst=False).isna()
    if kind == "BOOLEAN":
        return ~text.str.lower().isin(_TRUE_FALSE)
    return None


def _check_lists(table: str, frame: pd.DataFrame, findings: Findings) -> None:
    lists = std.code_lists()
    for item in std.fields()[table]:
        if not item.ref_table.startswith("l_") or item.name not in frame:
            continue
        values = frame[item.name]
        wrong = ~blank(values) & ~as_codes(values).isin(lists[item.ref_table]).to_numpy()
        findings.add_rows(
            frame, wrong, "GTHD-LIST", f"valeur absente de la liste {item.ref_table}",
            field=item.name,
        )  # fmt: skip


def _check_duplicates(table: str, frame: pd.DataFrame, findings: Findings) -> None:
    items = std.fields()[table]
    keys = [f.name for f in items if f.primary_key]
    groups = [keys] if len(keys) > 1 else []
    groups += [[f.name] for f in items if (f.primary_key and len(keys) == 1) or f.unique]
    for group in groups:
        if not all(name in frame for name in group):
            continue
        values = frame[group].astype(object).apply(lambda c: as_codes(c))
        filled = ~np.column_stack([blank(frame[name]) for name in group]).any(axis=1)
        dup = values.duplicated(keep=False).to_numpy() & filled
        findings.add_rows(
            frame, dup, "GTHD-CODE-DUP",
            f"{' + '.join(group)} en double dans {table} (clé du modèle)", field=group[0],
        )  # fmt: skip


def _check_references(tables: Mapping[str, pd.DataFrame], findings: Findings) -> None:
    for table, frame in tables.items():
        if not len(frame):
            continue
        for item in std.fields()[table]:
            if not item.ref_table.startswith("t_") or item.name not in frame:
                continue
            target = tables.get(item.ref_table)
            known = (
                set(as_codes(target[item.ref_field]).dropna())
                if target is not None and item.ref_field in target
                else set()
            )
            values = frame[item.name]
            unresolved = ~blank(values) & ~as_codes(values).isin(known).to_numpy()
            findings.add_rows(
                frame, unresolved, "GTHD-REF",
                f"référence inconnue : absente de {item.ref_table}.{item.ref_field}",
                field=item.name,
            )  # fmt: skip


def _check_capacity(cables: pd.DataFrame, options: CheckOptions, findings: Findings) -> None:
    low, high = options.thresholds["ct_1_cbcapamin"], options.thresholds["ct_1_cbcapamax"]
    capacity = _numbers(cables, "cb_capafo")
    used = _numbers(cables, "cb_fo_util")
    for bad, bound, suffix in (
        (capacity < low, f"inférieure au minimum {low:g} (ct_1_cbcapamin)", "s80008"),
        (capacity > high, f"supérieure au maximum {high:g} (ct_1_cbcapamax)", "s80009"),
    ):
        findings.add_rows(
            cables, bad.fillna(False).to_numpy(dtype=bool), "GTHD-CAPAFO", f"capacité {bound}",
            field="cb_capafo", check=std.check_code("t_cable", "cb_capafo", suffix),
        )  # fmt: skip
    # Only where both are numbers: an unreadable capacity is a GTHD-TYPE finding, not an excess.
    over = (used > capacity).fillna(False).to_numpy(dtype=bool)
    findings.add_rows(
        cables, over, "GTHD-FO-UTIL", "cb_fo_util (" + used.map(_number_text)
        + ") supérieur à cb_capafo (" + capacity.map(_number_text) + ")", field="cb_fo_util",
    )  # fmt: skip
    if "cb_rf_code" in cables:
        ref = as_codes(cables["cb_rf_code"]).where(~pd.Series(blank(cables["cb_rf_code"]),
                                                              index=cables.index))  # fmt: skip
        spread = capacity.groupby(ref).transform(lambda c: c.dropna().nunique())
        mixed = (ref.notna() & (spread > 1)).to_numpy()
        findings.add_rows(
            cables, mixed, "GTHD-RF-CAPA",
            "d'autres câbles de la référence " + ref.astype(str) + " ont une autre capacité",
            field="cb_capafo", check=std.check_code("t_cable", "cb_capafo", "s80007"),
        )  # fmt: skip


def _numbers(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame:
        return pd.Series(np.nan, index=frame.index)
    values = frame[name]
    if values.dtype == object:
        values = values.astype(str).str.strip().str.replace(",", ".", regex=False)
    return pd.to_numeric(values, errors="coerce")


def _number_text(value: float) -> str:
    return f"{value:g}"
