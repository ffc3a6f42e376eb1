"""Placeholder adapter for SAMM (being built)."""

from pathlib import Path

from mepipe.adapters.base import Adapter, ParseResult


class SammAdapter(Adapter):
    name = "samm"
    title = "SAMM"

    @classmethod
    def looks_like(cls, root: Path) -> bool:
        return False

    def parse(self) -> ParseResult:
        raise NotImplementedError
