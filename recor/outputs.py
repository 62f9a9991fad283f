"""Outputs safe to open: CSV cells no spreadsheet runs, console text no terminal obeys.

Codes and names come from contractors' deliveries and reach every output. Two rules:

- **CSV** (OWASP, "CSV injection"): a text cell starting with ``=``, ``+``, ``-``, ``@``, a
  tab or a carriage return is read as a formula by Excel and LibreOffice; recor prefixes it
  with a single quote, which spreadsheets show as text. A cell that is a plain number
  (``-12.5``, ``+3``, ``1e-3``) stays a number; numeric columns are never touched.
- **Console**: control characters (C0 but newline and tab, DEL, C1 such as the 8-bit CSI),
  bidirectional overrides and line separators are written as ``\\uXXXX`` escapes, so a name
  cannot move the cursor, clear the screen, retitle the terminal or reorder a line. The
  escape is valid inside JSON strings, so ``--json`` output stays parseable.

HTML outputs escape every value where they are built (maps, import report).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # imported where used: every command starts here, few print tables
    import pandas as pd

__all__ = [
    "FORMULA_TRIGGERS",
    "ConsoleGuard",
    "guarded_console",
    "safe_cell",
    "safe_console",
    "safe_table",
]

#: First characters that make a spreadsheet evaluate a cell (OWASP).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")

_UNSAFE_CODEPOINTS = [
    *(c for c in range(0x20) if chr(c) not in "\n\t"),
    *range(0x7F, 0xA0),
    0x061C,  # Arabic letter mark
    0x200E,
    0x200F,  # left-to-right / right-to-left marks
    *range(0x202A, 0x202F),  # embeddings and overrides
    *range(0x2066, 0x206A),  # isolates
    0x2028,
    0x2029,  # line and paragraph separators
]
_CONSOLE_ESCAPES = {c: f"\\u{c:04x}" for c in _UNSAFE_CODEPOINTS}


def safe_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as written: formula-like text gets a leading ``'``.

    Non-text values and text that is a plain number are returned unchanged.
    """
    if not isinstance(value, str) or not value or not value.startswith(FORMULA_TRIGGERS):
        return value
    if _PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value


def safe_table(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell (and column name) passed through
    :func:`safe_cell`; numeric, boolean and date columns are left as they are."""
    import pandas as pd

    out = pd.DataFrame(frame).copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(safe_cell)
    out.columns = [safe_cell(c) for c in out.columns]
    return out


def safe_console(text: str) -> str:
    """``text`` with control, bidirectional and line-separator characters escaped."""
    return text.translate(_CONSOLE_ESCAPES)


class ConsoleGuard:
    """A text stream that escapes, with :func:`safe_console`, everything written to it."""

    def __init__(self, stream: TextIO) -> None:
        self.raw = stream

    def write(self, text: str) -> int:
        """Write ``text`` escaped; returns the length of ``text`` as given."""
        self.raw.write(safe_console(text))
        return len(text)

    def writelines(self, lines: Any) -> None:
        """Write each line escaped."""
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


@contextmanager
def guarded_console() -> Iterator[None]:
    """Escape everything written to ``sys.stdout`` and ``sys.stderr`` in the block.

    Progress bars that need a carriage return write to ``sys.stderr.raw``.
    """
    saved = sys.stdout, sys.stderr
    sys.stdout = ConsoleGuard(saved[0])  # type: ignore[assignment]
    sys.stderr = ConsoleGuard(saved[1])  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
