"""Placeholder adapter for CASME II (being built)."""

from pathlib import Path

from mepipe.adapters.base import Adapter, ParseResult


class Casme2Adapter(Adapter):
    name = "casme2"
    title = "CASME II"

    @classmethod
    def looks_like(cls, root: Path) -> bool:
        return False

    def parse(self) -> ParseResult:
        raise NotImplementedError
