"""Named exceptions: each says what went wrong, where, and what was expected."""

from __future__ import annotations

__all__ = [
    "CommitUncertain",
    "ConfigurationError",
    "ImportRefused",
    "MigrationError",
    "NotFound",
    "RecorError",
    "RegistryBusy",
    "RegistryError",
    "UndoRefused",
]


class RecorError(Exception):
    """Base class of every error recor raises on purpose."""


class ConfigurationError(RecorError):
    """A setting is missing or malformed."""


class RegistryError(RecorError):
    """The registry refused a change (a database rule, a lock, a missing reference)."""


class MigrationError(RegistryError):
    """A schema migration could not be applied, or an applied one was edited."""


class NotFound(RecorError):
    """A site, segment, batch or path asked for does not exist."""


class ImportRefused(RecorError):
    """A delivery was refused; nothing was written to the registry."""


class UndoRefused(RegistryError):
    """A batch cannot be undone (already undone, or later batches changed its rows)."""


class RegistryBusy(RegistryError):
    """Another writer held the registry's write lock for longer than the wait allowed."""


class CommitUncertain(RegistryError):
    """The connection was lost while committing and the outcome could not be checked."""
