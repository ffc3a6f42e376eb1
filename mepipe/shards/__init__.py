"""WebDataset shards of aligned clips, one group of shards per subject (docs/shards.md).

`write_shards` is the entry point `mepipe ingest` calls (its flags: mepipe.cli.shard_options).
Names are imported on first use,
so that worker processes, which import `mepipe.shards.clip` only, skip pandas and rich.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ShardOptions": "mepipe.shards.options",
    "ShardRun": "mepipe.shards.write",
    "run_shards": "mepipe.shards.write",
    "write_shards": "mepipe.shards.write",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'mepipe.shards' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
