"""The ``recor`` command: parse arguments, call the API, print. No logic lives here."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from recor import __version__
from recor.config import Settings
from recor.errors import RecorError

__all__ = ["main"]

#: Each module registers its sub-commands with ``register(subparsers)``; a registered parser
#: sets ``handler(args, settings) -> int`` as its default.
_COMMAND_MODULES = ("db", "demo", "imports", "network", "maps", "gracethd_export")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every sub-command."""
    parser = argparse.ArgumentParser(prog="recor", description=__doc__)
    parser.add_argument("--version", action="version", version=f"recor {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    parser.add_argument("--database-url", help="libpq URI (default: RECOR_DATABASE_URL, libpq env)")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _COMMAND_MODULES:
        module = importlib.import_module(f"recor.cli.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``recor`` command; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    settings = Settings.from_env()
    if args.database_url:
        settings = settings.with_("database", url=args.database_url)
    try:
        return int(args.handler(args, settings) or 0)
    except RecorError as exc:
        print(f"recor: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("recor: interrupted; nothing half-written stays in the registry", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader (e.g. `| head`) stopped early: not an error of ours.
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
