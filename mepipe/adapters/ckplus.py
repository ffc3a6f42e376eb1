"""Placeholder adapter for CK+ (being built)."""

from pathlib import Path

from mepipe.adapters.base import Adapter, ParseResult


class CkPlusAdapter(Adapter):
    name = "ckplus"
    title = "CK+"

    @classmethod
    def looks_like(cls, root: Path) -> bool:
        return False

    def parse(self) -> ParseResult:
        raise NotImplementedError
