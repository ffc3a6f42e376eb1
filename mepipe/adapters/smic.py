"""Placeholder adapter for SMIC (being built)."""

from pathlib import Path

from mepipe.adapters.base import Adapter, ParseResult


class SmicAdapter(Adapter):
    name = "smic"
    title = "SMIC"

    @classmethod
    def looks_like(cls, root: Path) -> bool:
        return False

    def parse(self) -> ParseResult:
        raise NotImplementedError
