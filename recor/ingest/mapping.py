"""Apply a profile to a raw layer: source fields → registry fields, typed, with findings.

Vectorised over the whole layer: value maps with ``Series.map``, numbers with
``pd.to_numeric``, one finding per bad cell. Source columns the profile does not use are kept
in ``extra`` (never dropped); one whose name is a registry column is refused as ambiguous.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import date
from types import MappingProxyType

import geopandas as gpd
import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

from recor.config import ImportSettings
from recor.domain import Installation, RiskKind, SiteKind, Status
from recor.ingest.findings import Findings
from recor.ingest.profiles import CODE_FIELDS, EXTRA_PREFIX, TARGETS, FieldRule, LayerRule

__all__ = ["EMPTY_EXTRA", "ENUMS", "RESERVED_COLUMNS", "map_layer", "source_column"]

#: ``extra`` of features with no extra attribute: one shared, read-only empty mapping rather
#: than a million empty dicts (it compares equal to ``{}``).
EMPTY_EXTRA: Mapping[str, object] = MappingProxyType({})

#: Registry columns no delivery may fill directly (set by the registry itself).
RESERVED_COLUMNS = frozenset(
    {"id", "geom", "length_m", "retired", "valid_from", "valid_to", "batch_id", "ended_by_batch"}
    | {"risk_groups", "segment_id", "risk_group_id"}
)
_PROVENANCE = ("_file", "_feature")
_INTEGERS = {"fibre_count", "fibres_used"}
_FLOATS = {"declared_length"}
_DATES = {"commissioned_on"}
_NULLABLE_TEXT = {"site_a", "site_b"}
#: what pandas infers for a column of texts (or of nothing but missing values)
_TEXTS = {"string", "empty"}
#: The registry's integer columns are 32-bit: a larger value would be stored wrapped.
_INT32_MAX = 2**31 - 1
_RANGE_MESSAGE = {
    True: f"hors de la plage des entiers du registre (±{_INT32_MAX:,})",
    False: "nombre infini : valeur finie attendue",
}
#: Written by some tools for an empty number or date (pandas' "NaT", "nan", SQL "NULL").
_NULL_TOKENS = ("", "nat", "nan", "none", "null")

#: Defaults of enumerated fields a profile leaves out (the registry's own defaults).
_FALLBACK_DEFAULTS: dict[tuple[str, str], str] = {
    ("sites", "kind"): str(SiteKind.OTHER),
    ("sites", "status"): str(Status.IN_SERVICE),
    ("segments", "installation"): str(Installation.OTHER),
    ("segments", "status"): str(Status.IN_SERVICE),
    ("risk_groups", "kind"): str(RiskKind.OTHER),
}

#: Enumerated fields per entity and the values the registry accepts.
ENUMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("sites", "kind"): tuple(SiteKind),
    ("sites", "status"): tuple(Status),
    ("segments", "installation"): tuple(Installation),
    ("segments", "status"): tuple(Status),
    ("risk_groups", "kind"): tuple(RiskKind),
}


def map_layer(
    raw: pd.DataFrame,
    rule: LayerRule,
    findings: Findings,
    settings: ImportSettings,
    *,
    default_source: str = "",
    fixed_width: bool = False,
    code_prefix: str = "",
    json_text: bool = False,
) -> pd.DataFrame:
    """The layer in registry fields (plus ``_file``, ``_feature`` and any geometry).

    Parameters
    ----------
    raw
        The layer as read (see :func:`recor.ingest.readers.read_layer`).
    rule
        The profile's rule for this layer's entity.
    findings
        Receives type, length, enumeration and field-name findings.
    settings
        Limits (``max_text_length``).
    default_source
        ``source`` of features whose layer gives none.
    fixed_width
        True for dBASE tables (Shapefile), whose texts cannot exceed 254 bytes: the text
        length check is skipped.
    code_prefix
        Put in front of every non-empty code (``code``, ``site_a``, ...) unless the field's
        own ``prefix`` says otherwise: a namespace per source.
    json_text
        True for GeoJSON: texts holding a JSON object or array (GDAL's form of nested
        properties) are stored in ``extra`` as JSON, not as text.
    """
    columns = {c.lower(): c for c in raw.columns if c not in _PROVENANCE}
    geometry = raw.geometry.name if isinstance(raw, gpd.GeoDataFrame) else None
    if geometry is not None:
        columns.pop(geometry.lower(), None)
    if not fixed_width:
        _check_text_length(raw, list(columns.values()), findings, settings.max_text_length)
    used: set[str] = set()
    out = _registry_fields(raw, rule, columns, used, findings, code_prefix)
    mapped_extra = _mapped_extra(raw, rule, columns, used, findings)
    if "source" in out and default_source:
        out["source"] = out["source"].mask(out["source"] == "", default_source)
    extra_rule = rule.field("extra") or FieldRule("extra", sources=("extra",))
    extra_source = next((columns[s] for s in extra_rule.sources if s in columns), None)
    if extra_source is not None:
        used.add(extra_source)
    leftover = [c for c in columns.values() if c not in used]
    _check_collisions(raw, leftover, rule.entity, findings)
    if rule.entity != "segment_risk_groups":
        added = {**mapped_extra}
        if "declared_length" in out:
            added["declared_length"] = out["declared_length"]
        keep = [*leftover, *added]
        source_frame = raw.assign(**added) if added else raw
        out["extra"] = _extra(source_frame, keep, extra_source, findings, json_text=json_text)
        if leftover:
            findings.add(
                "ATTR-EXTRA-KEPT",
                f"{len(leftover)} champ(s) sans correspondance conservé(s) dans extra",
                file=str(raw["_file"].iloc[0]) if len(raw) else "",
                field=", ".join(leftover),
            )
    for column in _PROVENANCE:
        out[column] = raw[column].to_numpy()
    if geometry is not None:
        return gpd.GeoDataFrame(out, geometry=raw.geometry.to_numpy(), crs=raw.crs)
    return out


def _registry_fields(
    raw: pd.DataFrame,
    rule: LayerRule,
    columns: dict[str, str],
    used: set[str],
    findings: Findings,
    code_prefix: str,
) -> pd.DataFrame:
    """Every registry field of the entity, converted (source columns added to ``used``)."""
    out = pd.DataFrame(index=raw.index)
    for target in sorted(TARGETS[rule.entity] - {"extra"}):
        fallback = _FALLBACK_DEFAULTS.get((rule.entity, target))
        field = rule.field(target) or FieldRule(target, sources=(target,), default=fallback)
        source = source_column(field, columns)
        if source is not None:
            used.add(source)
        out[target] = _convert(raw, source, field, rule.entity, findings)
        prefix = code_prefix if field.prefix is None else field.prefix
        if target in CODE_FIELDS and prefix:
            out[target] = _prefixed(out[target], prefix)
    return out


def _mapped_extra(
    raw: pd.DataFrame,
    rule: LayerRule,
    columns: dict[str, str],
    used: set[str],
    findings: Findings,
) -> dict[str, pd.Series]:
    """Values of the profile's ``extra.KEY`` fields, by key (their columns added to ``used``)."""
    mapped = {}
    for field in rule.extra_fields():
        source = source_column(field, columns)
        if source is None:
            continue
        used.add(source)
        plain = not field.values and field.default is None
        mapped[field.target.removeprefix(EXTRA_PREFIX)] = (
            raw[source] if plain else _convert(raw, source, field, rule.entity, findings)
        )
    return mapped


def source_column(field: FieldRule, columns: dict[str, str]) -> str | None:
    """The first of the field's source columns the layer has (``columns``: lower → real)."""
    return next((columns[s] for s in field.sources if s in columns), None)


def _prefixed(values: pd.Series, prefix: str) -> pd.Series:
    present = values.notna() & (values.astype(object) != "")
    return values.astype(object).where(~present, prefix + values.astype(str))


def _check_text_length(
    raw: pd.DataFrame, columns: list[str], findings: Findings, limit: int
) -> None:
    for column in columns:
        series = raw[column]
        if series.dtype.kind not in "OUT" and not pd.api.types.is_string_dtype(series):
            continue
        too_long = series.astype(object).map(len, na_action="ignore").fillna(0).to_numpy() > limit
        if too_long.any():
            message = f"texte de plus de {limit} caractères"
            findings.add_rows(
                raw, too_long, "ATTR-TEXT-TOO-LONG", message, field=column,
                values=series.str.slice(0, 40) + "…",
            )  # fmt: skip


def _check_collisions(
    raw: pd.DataFrame, leftover: list[str], entity: str, findings: Findings
) -> None:
    names = TARGETS[entity] | RESERVED_COLUMNS
    for column in leftover:
        if column.lower() in names:
            findings.add(
                "ATTR-FIELD-COLLISION",
                f"le champ source « {column} » porte le nom d'une colonne du registre sans être "
                "mis en correspondance : le renommer ou l'associer dans un profil",
                file=str(raw["_file"].iloc[0]) if len(raw) else "",
                field=column,
            )


def _as_text(series: pd.Series) -> pd.Series:
    """Values as strings (integral floats without '.0'), nulls kept as NaN."""
    if pd.api.types.is_float_dtype(series):
        integral = series.dropna().mod(1).eq(0).all()
        if integral:
            series = series.astype("Int64")
    if pd.api.types.is_datetime64_any_dtype(series):
        return series.dt.strftime("%Y-%m-%d").astype(object)
    text = series.astype(object).where(series.notna(), None)
    if pd.api.types.is_string_dtype(series):
        return text
    return text.map(str, na_action="ignore")


def _convert(
    raw: pd.DataFrame, source: str | None, field: FieldRule, entity: str, findings: Findings
) -> pd.Series:
    target = field.target
    if target not in _DATES and target not in _INTEGERS and target not in _FLOATS:
        return _text(raw, source, field, entity)
    if source is None:
        values = pd.Series(field.default, index=raw.index, dtype=object)
    elif target in _DATES and not field.values:
        values = raw[source]
        if pd.api.types.is_datetime64_any_dtype(values):
            return _dates(raw, values, source, findings)
        values = values.astype(object).where(values.notna(), None)
    else:
        values = raw[source]
        if field.values:
            values = _apply_values(_as_text(values), field.values)
    if field.default is not None and source is not None:
        blank = values.isna() | (values.astype(object) == "")
        values = values.astype(object).where(~blank, field.default)
    if target in _INTEGERS or target in _FLOATS:
        return _numbers(
            raw, values, source or target, integer=target in _INTEGERS, findings=findings
        )
    return _dates(raw, values, source or target, findings)


def _text(raw: pd.DataFrame, source: str | None, field: FieldRule, entity: str) -> pd.Series:
    """A text field, worked out once per distinct value and spread over the rows.

    Equal values come out as one shared object (a million rows of one operator name are
    one string in memory).
    """
    if source is None:
        codes = np.zeros(len(raw), dtype=np.intp)
        default = None if field.default is None else str(field.default)
        distinct = pd.Series([default], dtype=object)
    else:
        values = raw[source]
        if pd.api.types.is_float_dtype(values) or (
            values.dtype == object and infer_dtype(values, skipna=True) not in _TEXTS
        ):
            # texts first: mixed values (GeoJSON) may not hash, and -0.0 == 0.0 as numbers
            values = _as_text(values)
        if isinstance(values.dtype, pd.StringDtype):
            # texts as read: their distinct values are texts already (and the plain array
            # factorises without the string array's copies and checks)
            codes, texts = pd.factorize(values.to_numpy(dtype=object), use_na_sentinel=True)
        else:
            codes, uniques = pd.factorize(values, use_na_sentinel=True)
            texts = _as_text(pd.Series(uniques)).to_numpy(dtype=object)
        func = _cleaner(field, entity)
        cleaned = texts if func is None else np.fromiter(map(func, texts), object, len(texts))
        distinct = pd.Series(np.append(cleaned, None), dtype=object)  # -1 (missing): last
        if field.default is not None:
            blank = distinct.isna() | (distinct == "")
            distinct = distinct.where(~blank, field.default)
    if field.target in _NULLABLE_TEXT:
        distinct = distinct.where(distinct.notna() & (distinct != ""), None)
    else:
        distinct = distinct.where(distinct.notna(), "")
    return pd.Series(distinct.to_numpy(dtype=object)[codes], index=raw.index, dtype=object)


def _cleaner(field: FieldRule, entity: str) -> Callable[[str], object] | None:
    """The per-value clean-up of a text field: value map, then case/space normalisation.

    None when values are kept as they are.
    """
    mapping = {str(k).strip().lower(): v for k, v in field.values.items()}
    enum = (entity, field.target) in ENUMS
    identifier = field.target in {"code", "site_a", "site_b", "segment_code", "risk_group_code"}
    if not mapping:  # the common case, without a Python call of ours per value
        if enum:
            return _strip_lower
        return str.strip if identifier else None

    def clean(value: str) -> object:
        if mapping:
            value = mapping.get(value.strip().lower(), value)
            if not isinstance(value, str):
                return value
        if enum:
            return value.strip().lower()
        return value.strip() if identifier else value

    return clean


def _strip_lower(value: str) -> str:
    return value.strip().lower()


def _by_unique(values: pd.Series, func: Callable[[str], object]) -> pd.Series:
    """``values.map(func)`` computed once per distinct value (most columns repeat a lot)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if not len(uniques):
        return pd.Series(None, index=values.index, dtype=object)
    mapped = np.empty(len(uniques) + 1, dtype=object)
    mapped[:-1] = [func(u) for u in uniques]
    mapped[-1] = None
    return pd.Series(mapped[codes], index=values.index, dtype=object)


def _apply_values(values: pd.Series, mapping: dict[str, object]) -> pd.Series:
    lowered = {str(k).strip().lower(): v for k, v in mapping.items()}
    return _by_unique(values, lambda v: lowered.get(v.strip().lower(), v))


def _numbers(
    raw: pd.DataFrame, values: pd.Series, field: str, *, integer: bool, findings: Findings
) -> pd.Series:
    if values.dtype == object or pd.api.types.is_string_dtype(values):
        text = values.astype(object).where(values.notna(), None).map(str, na_action="ignore")
        text = text.str.strip().str.replace(",", ".", regex=False)
        text = text.where(~text.str.lower().isin(_NULL_TOKENS), None)
        numbers = pd.to_numeric(text, errors="coerce")
    else:
        text = values
        numbers = pd.to_numeric(values, errors="coerce")
    numbers = numbers.astype("float64")
    bad = (text.notna() & numbers.isna()).to_numpy()
    findings.add_rows(
        raw, bad, "ATTR-TYPE", "nombre attendu", field=field, values=values.astype(object)
    )
    limit = _INT32_MAX if integer else np.inf
    beyond = (numbers.notna() & ~(numbers.abs() <= limit)).to_numpy()
    if beyond.any():  # texts are built for the rows reported only
        findings.add_rows(
            raw, beyond, "ATTR-RANGE", _RANGE_MESSAGE[integer], field=field,
            values=numbers.astype(str),
        )  # fmt: skip
    numbers = numbers.where(~beyond)
    if not integer:
        return numbers
    fractional = (numbers.notna() & (numbers % 1 != 0)).to_numpy()
    findings.add_rows(
        raw, fractional, "ATTR-TYPE", "nombre entier attendu", field=field, values=numbers
    )
    return numbers.where(~fractional).round().astype("Int64")


def _dates(raw: pd.DataFrame, values: pd.Series, field: str, findings: Findings) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
    else:
        text = values.astype(object).where(values.notna(), None).map(str, na_action="ignore")
        text = text.str.strip()
        text = text.where(~text.str.lower().isin(_NULL_TOKENS), None)
        parsed = pd.to_datetime(text, errors="coerce", format="ISO8601")
        retry = parsed.isna() & text.notna()
        if retry.any():
            parsed = parsed.where(
                ~retry, pd.to_datetime(text.where(retry), errors="coerce", format="%d/%m/%Y")
            )
        bad = (text.notna() & parsed.isna()).to_numpy()
        findings.add_rows(
            raw, bad, "ATTR-TYPE", "date attendue (AAAA-MM-JJ ou JJ/MM/AAAA)", field=field,
            values=values.astype(object),
        )  # fmt: skip
    dates = np.asarray(parsed.dt.date.astype(object))
    return pd.Series(
        np.where(parsed.notna().to_numpy(), dates, None), index=values.index, dtype=object
    )


def _extra(
    raw: pd.DataFrame,
    leftover: list[str],
    extra_source: str | None,
    findings: Findings,
    *,
    json_text: bool = False,
) -> pd.Series:
    """Per feature: the parsed ``extra`` JSON merged with the unmapped columns' values."""
    n = len(raw)
    base = np.empty(n, dtype=object)
    base.fill(EMPTY_EXTRA)
    if extra_source is not None:
        codes, uniques = pd.factorize(raw[extra_source].astype(object), use_na_sentinel=True)
        parsed: list[dict | None] = []
        for text in uniques:
            try:
                value = (
                    json.loads(text, parse_constant=_no_constant) if isinstance(text, str) else text
                )
            except (ValueError, RecursionError):  # not JSON, NaN/Infinity, or nested too deep
                value = None
            parsed.append(value if isinstance(value, dict) else None)
        bad = np.array([p is None for p in parsed], dtype=bool)
        bad_rows = (codes >= 0) & bad[np.maximum(codes, 0)] if len(parsed) else np.zeros(n, bool)
        findings.add_rows(
            raw, bad_rows, "ATTR-TYPE", "objet JSON attendu (ex. {\"cle\": \"valeur\"})",
            field=extra_source,
        )  # fmt: skip
        has = np.flatnonzero((codes >= 0) & ~bad[np.maximum(codes, 0)]) if len(parsed) else []
        for i in has:
            if parsed[codes[i]]:
                base[i] = dict(parsed[codes[i]])
    if leftover:
        frame = raw[leftover]
        present = frame.notna().to_numpy()
        rows = np.flatnonzero(present.any(axis=1))
        if len(rows):
            columns = {c: _jsonable(frame[c], json_text=json_text) for c in leftover}
            for i in rows:
                base[i] = dict(base[i])
            for column, values in columns.items():
                col_present = present[:, leftover.index(column)]
                for i in np.flatnonzero(col_present):
                    base[i][column] = values[i]
    return pd.Series(base, index=raw.index, dtype=object)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _jsonable(series: pd.Series, *, json_text: bool = False) -> np.ndarray:
    """Values JSON can hold as such: arrays as lists, nested objects as objects."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return series.dt.strftime("%Y-%m-%d").to_numpy(dtype=object)
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return np.asarray(series.astype(object).tolist(), dtype=object)

    def plain(value: object) -> object:
        if isinstance(value, str):
            return _parsed_json(value) if json_text else value
        if isinstance(value, (bool, int, float)):
            return value
        if isinstance(value, np.ndarray):
            return [plain(v) for v in value.tolist()]
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, (pd.Timestamp, date)):
            return value.isoformat()[:10]
        return str(value)

    return series.astype(object).map(plain, na_action="ignore").to_numpy()


def _parsed_json(text: str) -> object:
    """A JSON object or array written as text (GDAL's nested GeoJSON properties), parsed."""
    stripped = text.lstrip()
    if not stripped.startswith(("{", "[")):
        return text
    try:
        return json.loads(stripped, parse_constant=_no_constant)
    except (ValueError, RecursionError):  # not JSON, NaN/Infinity, or nested beyond reason
        return text
