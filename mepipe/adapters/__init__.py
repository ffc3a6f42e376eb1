"""Release adapters, one class per database, looked up by the name users type."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from mepipe.adapters.base import Adapter, AdapterOptions, ParseResult
from mepipe.adapters.casme2 import Casme2Adapter
from mepipe.adapters.ckplus import CkPlusAdapter
from mepipe.adapters.mmi import MmiAdapter
from mepipe.adapters.oulu import OuluAdapter
from mepipe.adapters.samm import SammAdapter
from mepipe.adapters.smic import SmicAdapter
from mepipe.errors import MepipeError

ADAPTERS: dict[str, type[Adapter]] = {
    cls.name: cls
    for cls in (Casme2Adapter, SmicAdapter, SammAdapter, CkPlusAdapter, OuluAdapter, MmiAdapter)
}

__all__ = [
    "ADAPTERS",
    "Adapter",
    "AdapterOptions",
    "ParseResult",
    "adapter_options",
    "get_adapter",
    "open_release",
]


def get_adapter(name: str) -> type[Adapter]:
    try:
        return ADAPTERS[name]
    except KeyError:
        known = ", ".join(sorted(ADAPTERS))
        raise MepipeError(f"unknown database '{name}' (known: {known})") from None


def adapter_options(name: str, **values: Any) -> AdapterOptions:
    """Release `name`'s own options from `values`, leaving out those it does not take.

    One ingest command offers every release's choices (`--variant`, `--smic-subsets`,
    `--oulu-lighting`, ...); each release keeps the ones it declares in `Adapter.Options`.
    None means "not given": the release's default holds.
    """
    options = get_adapter(name).Options
    taken = {f.name for f in dataclasses.fields(options)}
    return options(**{k: v for k, v in values.items() if k in taken and v is not None})


def open_release(name: str, root: str | Path, options: AdapterOptions | None = None) -> Adapter:
    """Open `root` as release `name`; if it holds another release, say which."""
    cls = get_adapter(name)
    root = Path(root)
    adapter = cls(root, options)
    if not cls.looks_like(root):
        others = [c.title for c in ADAPTERS.values() if c is not cls and c.looks_like(root)]
        hint = f"; it looks like {' or '.join(others)}" if others else ""
        raise MepipeError(f"does not look like a {cls.title} release{hint}", root)
    return adapter
