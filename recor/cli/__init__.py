"""The ``recor`` command: parse arguments, call the API, print. No logic lives here."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from recor import __version__
from recor.cli._args import add_global_options
from recor.config import Settings
from recor.errors import RecorError
from recor.outputs import guarded_console

__all__ = ["main"]

#: Each module registers its sub-commands with ``register(subparsers)``; a registered parser
#: sets ``handler(args, settings) -> int`` as its default.
_COMMAND_MODULES = ("db", "demo", "imports", "network", "maps", "export")

#: Which module registers each sub-command (a test checks it against the modules): a command
#: imports only its own module, not the maps, GIS readers and exports of the others.
COMMANDS: dict[str, str] = {
    "db": "db", "summary": "db", "history": "db", "demo": "demo", "import": "imports",
    "route": "network", "diverse": "network", "redundancy": "network", "whatif": "network",
    "reference": "maps", "coverage": "maps", "map": "maps", "export": "export",
}  # fmt: skip


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser: every sub-command, or only the module of the one ``argv`` names."""
    parser = argparse.ArgumentParser(prog="recor", description=__doc__)
    parser.add_argument("--version", action="version", version=f"recor {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _modules_for(argv):
        module = importlib.import_module(f"recor.cli.{name}")
        module.register(subparsers)
    # after the sub-commands exist: the options are accepted before or after them
    add_global_options(parser, top=True)
    return parser


def _modules_for(argv: Sequence[str] | None) -> Sequence[str]:
    """The command modules to register: the named command's alone, when argv names one."""
    if argv is None:
        return _COMMAND_MODULES
    skip = False
    for token in argv:
        if skip or token.startswith("--database-url="):
            skip = False
            continue
        if token == "--database-url":
            skip = True
        elif token in COMMANDS:
            return (COMMANDS[token],)
        elif not token.startswith("-"):
            break  # not a command: let the full parser say so
    return _COMMAND_MODULES


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``recor`` command; returns the process exit code.

    Everything printed goes through :func:`recor.outputs.guarded_console`: delivered names
    cannot send control sequences to the terminal.
    """
    with guarded_console():
        return _run(argv)


def _run(argv: Sequence[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
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
