"""Placeholder adapter for MMI (being built)."""

from pathlib import Path

from mepipe.adapters.base import Adapter, ParseResult


class MmiAdapter(Adapter):
    name = "mmi"
    title = "MMI"

    @classmethod
    def looks_like(cls, root: Path) -> bool:
        return False

    def parse(self) -> ParseResult:
        raise NotImplementedError
