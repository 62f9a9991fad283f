"""Bounds on reading untrusted input: file kinds, sizes, nesting, YAML expansion and time.

Every delivered byte is hostile until read: a FIFO blocks a reader forever, a symbolic link
points outside the delivery, a GeoJSON nested 100,000 deep exhausts a parser's stack, a YAML
"billion laughs" expands to more nodes than memory holds. The helpers here answer, before a
parser runs, whether it may run, and bound how long the whole reading stage may take.
"""

from __future__ import annotations

import codecs
import contextvars
import os
import re
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from recor.errors import ConfigurationError

__all__ = [
    "JsonScan",
    "file_problem",
    "first_undecodable",
    "load_yaml",
    "read_deadline",
    "scan_json",
    "time_is_up",
]

_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "recor_read_deadline", default=None
)


@contextmanager
def read_deadline(seconds: float) -> Iterator[None]:
    """Within this block, :func:`time_is_up` turns True after ``seconds``."""
    token = _DEADLINE.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def time_is_up() -> bool:
    """True when the reading stage has used up its time (see :func:`read_deadline`)."""
    deadline = _DEADLINE.get()
    return deadline is not None and time.monotonic() > deadline


def file_problem(path: Path, root: Path | None = None) -> str | None:
    """Why ``path`` must not be opened, in French, or None when it is a regular file or folder.

    A link is followed only when ``root`` is None (a path the user named) or when its target
    stays inside ``root`` (the delivered folder); FIFOs, sockets and devices are refused,
    since opening them blocks or reads without end.
    """
    try:
        link = os.lstat(path)
    except OSError as exc:
        return f"inaccessible ({exc.strerror})"
    if stat.S_ISLNK(link.st_mode) and root is not None:
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError):
            return "lien symbolique cassé ou en boucle"
        if not target.is_relative_to(root.resolve()):
            return f"lien symbolique vers {target}, hors de la livraison : non suivi"
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        return f"inaccessible ({exc.strerror})"
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    kind = "FIFO" if stat.S_ISFIFO(mode) else "socket" if stat.S_ISSOCK(mode) else "périphérique"
    return f"fichier spécial ({kind}) : ni fichier ni dossier, non lu"


def first_undecodable(
    path: Path, encoding: str, *, start: int = 0, chunk: int = 1 << 24
) -> tuple[int, bytes] | None:
    """Byte offset and bytes of the first sequence of ``path`` not valid in ``encoding``."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = start
    with path.open("rb") as handle:
        handle.seek(start)
        while True:
            block = handle.read(chunk)
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                pending = len(decoder.getstate()[0]) if hasattr(decoder, "getstate") else 0
                where = offset + exc.start - pending
                return max(where, start), exc.object[exc.start : exc.end]
            if not block:
                return None
            offset += len(block)


@dataclass
class JsonScan:
    """What a byte-level scan of a JSON file found before any parser ran."""

    max_depth: int = 0
    too_deep_at: int | None = None
    nul_at: list[int] = field(default_factory=list)


_OPEN = np.zeros(256, dtype=np.int8)
_OPEN[[ord("["), ord("{")]] = 1
_OPEN[[ord("]"), ord("}")]] = -1
_NUL_ESCAPE = re.compile(rb"\\u0000")


def scan_json(path: Path, max_depth: int, *, chunk: int = 1 << 22) -> JsonScan:
    """Nesting depth and NUL characters of a JSON file, in bounded memory, without parsing.

    Brackets inside strings do not count; escaped quotes are honoured. A NUL (raw, or
    written ``\\u0000``) inside a string is listed by byte offset: GDAL's C strings would
    silently cut the text there.
    """
    out = JsonScan()
    depth, in_string, backslashes, offset = 0, False, 0, 0
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            data = np.frombuffer(block, dtype=np.uint8)
            is_bs = data == ord("\\")
            index = np.arange(len(data))
            last_other = np.maximum.accumulate(np.where(~is_bs, index, -1))
            before = np.concatenate(([-1], last_other[:-1]))
            run = np.where(before >= 0, index - 1 - before, index + backslashes)
            quote = (data == ord('"')) & (run % 2 == 0)
            toggles = np.cumsum(quote)
            inside = ((toggles - quote) % 2 == 1) ^ in_string
            steps = np.where(inside, 0, _OPEN[data]).astype(np.int64)
            levels = depth + np.cumsum(steps)
            if len(levels):
                out.max_depth = max(out.max_depth, int(levels.max()))
                if out.too_deep_at is None and out.max_depth > max_depth:
                    out.too_deep_at = offset + int(np.argmax(levels > max_depth))
                depth = int(levels[-1])
            nul = np.flatnonzero(inside & (data == 0))
            out.nul_at.extend(int(offset + i) for i in nul[:100])
            for match in _NUL_ESCAPE.finditer(block):
                if inside[match.start()] and run[match.start()] % 2 == 0:
                    out.nul_at.append(offset + match.start())
            in_string = bool((toggles[-1] % 2) ^ in_string) if len(toggles) else in_string
            trailing = len(data) - 1 - int(last_other[-1]) if len(data) else 0
            backslashes = trailing + (backslashes if trailing == len(data) else 0)
            offset += len(block)
            if out.too_deep_at is not None:
                break
    return out


class _CountingLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing documents whose expansion is too large or too deep."""

    max_nodes = 100_000
    max_depth = 100

    def compose_document(self) -> yaml.Node:
        node = super().compose_document()
        _expanded_size(node, self.max_nodes, self.max_depth)
        return node


def _expanded_size(root: yaml.Node, max_nodes: int, max_depth: int) -> int:
    """Nodes of the document once every alias is expanded (aliases share node objects)."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 0, False)]
    active: set[int] = set()
    while stack:
        node, depth, done = stack.pop()
        if depth > max_depth:
            raise ConfigurationError(f"nesting deeper than {max_depth} levels")
        key = id(node)
        if done:
            active.discard(key)
            children = _children(node)
            sizes[key] = 1 + sum(sizes[id(c)] for c in children)
            if sizes[key] > max_nodes:
                raise ConfigurationError(
                    f"more than {max_nodes:,} values once anchors and aliases are expanded"
                )
            continue
        if key in sizes:
            continue
        if key in active:
            raise ConfigurationError("an alias refers to itself (recursive document)")
        active.add(key)
        stack.append((node, depth, True))
        stack.extend((child, depth + 1, False) for child in _children(node))
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def load_yaml(text: str, origin: str, *, max_bytes: int = 1 << 20, max_nodes: int = 100_000) -> Any:
    """Parse untrusted YAML: safe types only, bounded size, expansion and nesting.

    Raises
    ------
    ConfigurationError
        Naming ``origin`` and what was exceeded or malformed.
    """
    if len(text.encode("utf-8", errors="replace")) > max_bytes:
        raise ConfigurationError(f"{origin}: more than {max_bytes:,} bytes of YAML")
    loader = _CountingLoader(text)
    loader.max_nodes = max_nodes
    try:
        return loader.get_single_data()
    except ConfigurationError as exc:
        raise ConfigurationError(f"{origin}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{origin}: invalid YAML: {exc}") from None
    except RecursionError:
        raise ConfigurationError(f"{origin}: YAML nested too deep") from None
    finally:
        loader.dispose()
