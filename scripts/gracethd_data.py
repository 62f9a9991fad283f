"""Build recor's compact copy of the GraceTHD v2.0.1 standard's facts (recor/ingest/gracethd_data/).

Reads the official templates (``gracethd-v2/``: code lists) and GraceTHD-Check's
configuration and schema (``gracethd-v2-standard/``) as data and writes:

- ``fields.csv``: every field of the 33 tables: type, length, mandatory (NOT NULL), primary
  key, unique, and the code list or table it references;
- ``lists.csv``: every code of every ``l_*`` list (list, code, libelle);
- ``fillatt.csv`` / ``filltab.csv``: attribute and table obligations per phase and network type;
- ``conf.csv``: the thresholds; ``checks.csv``: the catalogue of checks (code, type, table,
  field, sensitivity, message); ``sensitivities.csv``: what each sensitivity level means
  (``l_ct_sensibilite``: 1 Bloquant ... 4 Informatif).

No SQL is copied: only the facts the scripts state. Run::

    python scripts/gracethd_data.py ../shared/data recor/ingest/gracethd_data
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

__all__ = ["build", "main"]

_TABLE = re.compile(r"CREATE TABLE (t_\w+)\s*\(")
_FIELD = re.compile(
    r"^\s*(?:CREATE TABLE t_\w+\s*\()?\s*(\w+)\s+([A-Za-z]+(?:\s+WITHOUT TIME ZONE)?)"
    r"\s*(?:\(\s*([\w,\s]+?)\s*\))?(.*)$"
)
_REF = re.compile(r"REFERENCES\s+(\w+)\s*\(\s*(\w+)\s*\)")
_SENSIB = re.compile(r"INSERT INTO l_ct_sensibilite VALUES \('(\w+)'\s*,\s*'([^']*)'")
_PK = re.compile(r'CONSTRAINT\s+"\w+"\s+PRIMARY KEY\s*\(([^)]*)\)')


def _fields(schema: str) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    table = ""
    for line in schema.splitlines():
        line = line.split("--")[0].rstrip()
        found = _TABLE.search(line)
        if found:
            table = found.group(1)
        if not table:
            continue
        key = _PK.search(line)
        if key:
            for name in (k.strip() for k in key.group(1).split(",")):
                for row in rows:
                    if row["table"] == table and row["field"] == name:
                        row["primary_key"] = "1"
            table = ""
            continue
        match = _FIELD.match(line.replace(f"CREATE TABLE {table}(", "").replace("\t", " "))
        if not match or match.group(1).upper() in {"CONSTRAINT", "DROP", "SET"}:
            continue
        name, kind, size, rest = match.groups()
        ref = _REF.search(rest)
        length, scale = "", ""
        if size and kind.upper() in {"VARCHAR", "NUMERIC"}:
            length, _, scale = (s.strip() for s in size.partition(","))
        geometry = kind.lower() == "geometry"
        rows.append(
            {
                "table": table,
                "field": name,
                "type": (size.split(",")[0].strip() if geometry and size else kind.upper()),
                "length": "" if geometry else length,
                "scale": "" if geometry else scale,
                "not_null": "1" if "NOT NULL" in rest.upper() else "",
                "unique": "1" if " UNIQUE" in f" {rest.upper()}" else "",
                "primary_key": "",
                "ref_table": ref.group(1) if ref else "",
                "ref_field": ref.group(2) if ref else "",
            }
        )
    return rows


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


def _write(path: Path, rows: list[dict[str, str]], columns: list[str]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, columns, delimiter=";", lineterminator="\n")
        writer.writeheader()
        writer.writerows({c: (row.get(c) or "").strip() for c in columns} for row in rows)


def build(shared: Path, out: Path) -> list[Path]:
    """Write the compact copy from ``shared`` (the ``data/`` folder) into ``out``."""
    standard = shared / "gracethd-v2-standard"
    conf = standard / "check-conf"
    out.mkdir(parents=True, exist_ok=True)
    schema = (standard / "check-sql" / "gracethd_30_tables.sql").read_text(encoding="utf-8-sig")
    fields = _fields(schema)
    _write(out / "fields.csv", fields, list(fields[0]))
    lists = [
        {"list": path.stem, "code": row["code"], "libelle": row.get("libelle", "")}
        for path in sorted((shared / "gracethd-v2").glob("l_*.csv"))
        for row in _read(path)
    ]
    _write(out / "lists.csv", lists, ["list", "code", "libelle"])
    phases = ["pre", "dia", "avp", "pro_ou_act", "exe", "tvx_ou_rec", "mco"]
    _write(out / "fillatt.csv", _read(conf / "t_ct_conf_fillatt_psql.csv"),
           ["reseau", "nomtable", "attribut", "attunique", *phases])  # fmt: skip
    _write(out / "filltab.csv", _read(conf / "t_ct_conf_filltab_psql.csv"),
           ["reseau", "nomtable", *phases])  # fmt: skip
    _write(out / "conf.csv", _read(conf / "t_ct_conf_psql.csv"), ["nom", "definition", "valeur"])
    _write(out / "checks.csv", _read(conf / "t_ct_cat_psql.csv"),
           ["ct_code", "ct_type", "ct_mode", "ct_maintable", "ct_att", "ct_attunique",
            "ct_sensib", "ct_def"])  # fmt: skip
    inserts = (standard / "check-sql" / "gracethdcheck_20_insert.sql").read_text("utf-8-sig")
    levels = [{"code": c, "libelle": label} for c, label in _SENSIB.findall(inserts)]
    _write(out / "sensitivities.csv", levels, ["code", "libelle"])
    return sorted(out.glob("*.csv"))


def main(argv: list[str]) -> int:
    """Command line: ``gracethd_data.py SHARED_DATA OUT_DIR``."""
    for path in build(Path(argv[1]), Path(argv[2])):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
