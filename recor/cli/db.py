"""``recor db``: create, migrate and inspect the registry database; ``recor summary``."""

from __future__ import annotations

import argparse
import json

from recor import registry
from recor.config import Settings
from recor.domain import DEPARTEMENTS
from recor.registry.summary import RegistrySummary

__all__ = ["print_summary", "register", "summary_dict"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``db`` and ``summary``."""
    db = subparsers.add_parser("db", help="create and migrate the registry database")
    actions = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    init = actions.add_parser("init", help="create the database if missing, then upgrade")
    init.set_defaults(handler=_init)
    upgrade = actions.add_parser("upgrade", help="apply pending schema migrations")
    upgrade.set_defaults(handler=_upgrade)
    status = actions.add_parser("status", help="migrations applied and pending")
    status.set_defaults(handler=_status)
    summary = subparsers.add_parser("summary", help="sites by kind, km by status and département")
    summary.add_argument("--json", action="store_true", help="machine-readable output")
    summary.set_defaults(handler=_summary)
    history = subparsers.add_parser("history", help="every version of a segment, site or group")
    history.add_argument("code", help="business code, e.g. SEG-0001")
    history.add_argument(
        "--entity",
        choices=("segments", "sites", "risk_groups"),
        default=None,
        help="where to look (default: segments, then sites, then shared-risk groups)",
    )
    history.set_defaults(handler=_history)


def _init(args: argparse.Namespace, settings: Settings) -> int:
    created = registry.ensure_database(settings.database)
    target = registry.describe_target(settings.database.conninfo())
    print(f"database {'created' if created else 'present'}: {target}")
    return _upgrade(args, settings)


def _upgrade(args: argparse.Namespace, settings: Settings) -> int:
    with registry.connect(settings.database, autocommit=True) as conn:
        applied = registry.upgrade(conn)
    print("migrations applied: " + (", ".join(applied) if applied else "none (up to date)"))
    return 0


def _status(args: argparse.Namespace, settings: Settings) -> int:
    with registry.connect(settings.database, autocommit=True) as conn:
        applied = registry.applied_migrations(conn)
    for migration in registry.available_migrations():
        state = "applied" if migration.version in applied else "pending"
        print(f"{migration.version:04d}_{migration.name}: {state}")
    return 0


def _summary(args: argparse.Namespace, settings: Settings) -> int:
    with registry.connect(settings.database, autocommit=True) as conn:
        summary = registry.summarise(conn)
    if args.json:
        print(json.dumps(summary_dict(summary), ensure_ascii=False, indent=2, default=str))
    else:
        print_summary(summary)
    return 0


def summary_dict(summary: RegistrySummary) -> dict:
    """The summary as plain JSON-able values."""
    return {
        "data_version": summary.version.label(),
        "sites_by_kind": summary.sites_by_kind,
        "km_by_status": summary.km_by_status,
        "km_by_departement": summary.km_by_departement,
        "departement_method": summary.departement_method,
        "segments": summary.segments,
        "fibre_km": round(summary.fibre_km, 1),
        "unknown_fibre_count": {
            "segments": summary.unknown_count_segments,
            "km": summary.unknown_count_km,
        },
        "unknown_usage": {
            "segments": summary.unknown_usage_segments,
            "km": summary.unknown_usage_km,
        },
    }


def print_summary(summary: RegistrySummary) -> None:
    """Print the registry summary as readable tables."""
    print(f"Registry: {summary.version.label()}")
    known = " (segments of known fibre count)" if summary.unknown_count_segments else ""
    print(f"  {summary.segments} segments, {summary.fibre_km:,.0f} fibre-km{known}")
    print(
        f"  unknown fibre count: {summary.unknown_count_segments} segments "
        f"({summary.unknown_count_km:,.1f} km); unknown usage: "
        f"{summary.unknown_usage_segments} segments ({summary.unknown_usage_km:,.1f} km)"
    )
    print("Sites by kind:")
    for kind, count in summary.sites_by_kind.items():
        print(f"  {kind:<20} {count:>6}")
    print("Route km by status:")
    for status, km in summary.km_by_status.items():
        print(f"  {status:<20} {km:>9.1f}")
    print(f"Route km by département ({summary.departement_method}):")
    for dep, km in summary.km_by_departement.items():
        name = DEPARTEMENTS.get(dep, "") if dep != "?" else "unknown (end site without INSEE code)"
        print(f"  {dep + ' ' + name:<20} {km:>9.1f}")


def _history(args: argparse.Namespace, settings: Settings) -> int:
    import pandas as pd

    with registry.connect(settings.database, autocommit=True) as conn:
        versions = registry.history(conn, args.code, entity=args.entity)
    shown = [c for c in ("status", "fibre_count", "fibres_used", "name", "kind", "retired")
             if c in versions.columns]  # fmt: skip
    entity = str(versions.attrs["entity"]).rstrip("s").replace("_", "-")
    print(f"{entity} {args.code}: {len(versions)} version(s)")
    for row in versions.itertuples():
        until = "now" if pd.isna(row.valid_to) else row.valid_to.isoformat(timespec="seconds")
        values = ", ".join(f"{c}={getattr(row, c)}" for c in shown)
        print(f"  {row.valid_from.isoformat(timespec='seconds')} → {until}  batch {row.batch_id}: "
              f"{values}")  # fmt: skip
    return 0
