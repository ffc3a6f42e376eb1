"""Placeholder adapter for Oulu-CASIA (being built)."""

from pathlib import Path

from mepipe.adapters.base import Adapter, ParseResult


class OuluAdapter(Adapter):
    name = "oulu"
    title = "Oulu-CASIA"

    @classmethod
    def looks_like(cls, root: Path) -> bool:
        return False

    def parse(self) -> ParseResult:
        raise NotImplementedError
