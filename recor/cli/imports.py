"""``recor import``: load survey deliveries; ``recor import list``; ``recor import undo BATCH``."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from recor import registry
from recor.config import Settings
from recor.errors import ConfigurationError
from recor.registry.lock import LockHolder, LockWait
from recor.registry.model import ReplaceScope

if TYPE_CHECKING:
    from recor.ingest.pipeline import ImportResult

# The readers, checks and reports (pandas, geopandas, pyogrio) are imported inside the
# functions that use them: `recor import undo` and `--help` start without any of them.

__all__ = ["parse_replace_scope", "register", "report_paths"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``import`` (with its ``list`` and ``undo`` forms)."""
    parser = subparsers.add_parser(
        "import",
        help="import survey deliveries (Shapefile, GeoPackage, GeoJSON, CSV, GraceTHD v2)",
        description="recor import PATH... | recor import list | recor import undo BATCH",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files, folders or zips")
    parser.add_argument("--profile", default="auto", help="built-in profile name or YAML file")
    parser.add_argument("--crs", help="CRS of layers without one, e.g. 2154 or EPSG:4326")
    parser.add_argument(
        "--layer",
        action="append",
        default=[],
        metavar="NAME",
        help="read only this layer (GeoPackage layer or file stem; repeatable)",
    )
    parser.add_argument("--dry-run", action="store_true", help="check and show the diff only")
    parser.add_argument(
        "--recheck",
        action="store_true",
        help="read and check the delivery even when the newest batch loaded the very same files",
    )
    parser.add_argument("--report", type=Path, help="write the HTML report (and a .csv beside)")
    parser.add_argument("--json", action="store_true", help="machine-readable summary on stdout")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    parser.add_argument(
        "--replace-scope",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="retire registry rows missing from the delivery within this scope: "
        "source=NAME, prefix=CODE_PREFIX, bbox=XMIN,YMIN,XMAX,YMAX (repeatable; all must match)",
    )
    parser.add_argument("--user", help="name recorded with the batch (default: login)")
    parser.add_argument("--note", default="", help="note recorded with the batch")
    parser.add_argument(
        "--lock-timeout",
        type=float,
        metavar="SECONDS",
        help="give up when another import or undo holds the registry this long "
        "(default: setting imports.lock_timeout_s, 300)",
    )
    parser.set_defaults(handler=_dispatch)


def _lock_settings(args: argparse.Namespace, settings: Settings) -> Settings:
    if args.lock_timeout is None:
        return settings
    if not args.lock_timeout > 0:
        raise ConfigurationError(f"--lock-timeout {args.lock_timeout}: expected seconds > 0")
    return settings.with_("imports", lock_timeout_s=args.lock_timeout)


def _say_waiting(holder: LockHolder | None, waited: float) -> None:
    who = holder.describe() if holder else "une autre session (non identifiable)"
    print(f"registre occupé par {who} : attente ({waited:.0f} s écoulées)…", file=sys.stderr)


def parse_replace_scope(items: list[str]) -> ReplaceScope | None:
    """``--replace-scope`` values as a :class:`ReplaceScope` (None when not given)."""
    if not items:
        return None
    values: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not value:
            raise ConfigurationError(f"--replace-scope {item!r}: expected KEY=VALUE")
        if key == "source":
            values["source"] = value
        elif key == "prefix":
            values["code_prefix"] = value
        elif key == "bbox":
            try:
                xmin, ymin, xmax, ymax = (float(v) for v in value.split(","))
            except ValueError as exc:
                raise ConfigurationError(f"--replace-scope bbox={value}: 4 numbers") from exc
            import shapely

            values["area"] = shapely.box(xmin, ymin, xmax, ymax)
        else:
            raise ConfigurationError(f"--replace-scope {key}: expected source, prefix or bbox")
    return ReplaceScope(**values)  # type: ignore[arg-type]


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    settings = _lock_settings(args, settings)
    first = args.paths[0]
    if first == "list" and len(args.paths) == 1 and not Path(first).exists():
        return _list(args, settings)
    if first == "undo" and not Path(first).exists():
        if len(args.paths) != 2 or not args.paths[1].isdigit():
            print("usage: recor import undo BATCH", file=sys.stderr)
            return 2
        return _undo(int(args.paths[1]), args, settings)
    return _import(args, settings)


def _import(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from recor.ingest.pipeline import import_paths

    scope = parse_replace_scope(args.replace_scope)
    if args.report and not args.report.parent.is_dir():
        # Checked before the load: a report that cannot be written must not turn a
        # committed batch into a traceback and exit code 1 ("refused").
        raise ConfigurationError(f"--report {args.report}: dossier {args.report.parent} absent")
    if args.report and args.report.suffix.lower() not in {".html", ".htm"}:
        # The CSV goes beside the HTML with the suffix .csv: `--report x.csv` would write
        # the HTML report and then overwrite it with the CSV.
        raise ConfigurationError(
            f"--report {args.report}: attendu un fichier .html (le CSV est écrit à côté)"
        )
    # The bar needs its carriage returns: it writes past the console guard (its text is ours).
    stream = getattr(sys.stderr, "raw", sys.stderr)
    bar = (
        None
        if (args.quiet or args.json)
        else tqdm(total=4, desc="import", unit="étape", file=stream)
    )

    def progress(stage: str) -> None:
        if bar is not None:
            bar.set_description(stage)
            bar.update(1)

    with registry.connect(settings.database) as conn:
        result = import_paths(
            conn, args.paths, settings=settings.imports, profile=args.profile, crs=args.crs,
            layer=args.layer, replace_scope=scope, dry_run=args.dry_run, user=args.user,
            note=args.note, progress=progress, on_lock_wait=_say_waiting, recheck=args.recheck,
        )  # fmt: skip
    if bar is not None:
        bar.close()
    if args.report:
        _write_reports(result, args.report)
    if args.json:
        print(json.dumps(result.as_dict(), ensure_ascii=False, indent=1, default=str))
    else:
        _print_result(result, quiet=args.quiet)
    return 1 if result.refused else 0


def _verdict(result: ImportResult) -> str:
    verdicts = {
        "refused": "Livraison refusée : rien n'a été écrit dans le registre.",
        "dry-run": "Simulation (--dry-run) : livraison acceptable, rien n'a été écrit.",
        "unchanged": "Livraison identique au registre : aucun changement, aucun lot créé.",
    }
    findings = result.prepared.findings
    if result.status == "refused" and (findings["rule"] == "REG-UNCERTAIN").any():
        return (
            "Issue inconnue : la connexion au registre a été perdue pendant la validation ;"
            " vérifiez avec « recor import list » si le lot a été écrit."
        )
    same = result.prepared.identical_to
    if same is not None and result.status == "unchanged":
        return (
            f"Livraison identique à celle du lot n° {same}, le plus récent du registre :"
            " aucun changement, aucun lot créé (non relue ; --recheck pour la relire)."
        )
    if result.status in verdicts:
        return verdicts[result.status]
    assert result.summary is not None
    lost = (
        " (connexion perdue pendant la validation ; le serveur confirme que le lot est écrit)"
        if result.summary.commit_note
        else ""
    )
    draft = findings.loc[findings["rule"] == "GTHD-DRAFT", "message"]
    drafted = f" {draft.iloc[0][0].upper()}{draft.iloc[0][1:]}." if len(draft) else ""
    return f"Livraison chargée : lot n° {result.summary.batch_id}.{lost}{drafted}"


def report_paths(path: Path) -> tuple[Path, Path]:
    """``--report`` as (HTML, CSV): ``x.csv``, ``x.html`` or ``x`` all give both, distinct."""
    html = path if path.suffix.lower() in {".html", ".htm"} else path.with_suffix(".html")
    return html, path.with_suffix(".csv")


def _write_reports(result: ImportResult, path: Path) -> None:
    from recor.ingest.report import write_csv, write_html

    findings = result.prepared.findings
    html, csv = report_paths(path)
    write_html(
        html, findings, title="Rapport d'import RECOR", verdict=_verdict(result),
        counts=result.summary.counts() if result.summary else None,
        files=[f.__dict__ for f in result.prepared.source_files],
        diff_map=result.diff_map(), retired=result.retired_codes(),
    )  # fmt: skip
    write_csv(csv, findings)


def _print_result(result: ImportResult, *, quiet: bool) -> None:
    from recor.ingest.findings import describe_finding

    findings = result.prepared.findings
    errors = findings[findings["severity"] == "error"]
    for _, row in errors.head(50).iterrows():
        print(describe_finding(row), file=sys.stderr)
    if len(errors) > 50:
        print(f"... {len(errors) - 50} more errors (use --report)", file=sys.stderr)
    if quiet:
        return
    print(_verdict(result))
    counts = findings.groupby(["severity", "rule"]).size()
    for (severity, rule_id), n in counts.items():
        print(f"  {severity:8} {rule_id:24} {n}")
    if result.summary is not None:
        for entity, values in result.summary.counts().items():
            print(f"  {entity:12} " + "  ".join(f"{k} {v}" for k, v in values.items()))


def _list(args: argparse.Namespace, settings: Settings) -> int:
    import pandas as pd

    with registry.connect(settings.database, autocommit=True) as conn:
        batches = registry.list_batches(conn)
    if args.json:
        print(batches.to_json(orient="records", date_format="iso", force_ascii=False))
        return 0
    for row in batches.itertuples(index=False):
        files = ", ".join(f["path"] for f in (row.source_files or []))[:60]
        if pd.notna(row.undoes):
            files = f"annule le lot {int(row.undoes)}"
        elif pd.notna(row.undone_by):
            files = f"(annulé par le lot {int(row.undone_by)}) {files}"[:60]
        print(f"{row.id:>5}  {row.started_at:%Y-%m-%d %H:%M}  {row.outcome:8} {row.profile:12} "
              f"{row.app_user:10} {files}")  # fmt: skip
        if row.note and pd.isna(row.undoes):  # an undo's note only repeats « annule le lot »
            print(f"       note : {row.note}")
    return 0


def _undo(batch_id: int, args: argparse.Namespace, settings: Settings) -> int:
    wait = LockWait(timeout_s=settings.imports.lock_timeout_s, on_wait=_say_waiting)
    with registry.connect(settings.database, autocommit=True) as conn:
        summary = registry.undo_batch(conn, batch_id, user=args.user or _login(), wait=wait)
    if summary.commit_note:
        print(summary.commit_note, file=sys.stderr)
    if args.json:
        print(
            json.dumps(
                {"batch_id": summary.batch_id, "undoes": batch_id, "counts": summary.counts()}
            )
        )
    elif not args.quiet:
        print(f"batch {batch_id} undone by batch {summary.batch_id}")
    return 0


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""
