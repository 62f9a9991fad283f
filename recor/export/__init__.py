"""Exports of the registry's content in exchange formats."""

__all__: list[str] = []
