"""WebDataset shards of aligned clips, one group of shards per subject (docs/shards.md).

`write_shards` is the entry point `mepipe ingest` calls; `add_shard_options` and
`shard_options_from_cli` give it the command-line flags. Names are imported on first use,
so that worker processes, which import `mepipe.shards.clip` only, skip pandas and rich.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ShardOptions": "mepipe.shards.options",
    "add_shard_options": "mepipe.shards.options",
    "shard_options_from_cli": "mepipe.shards.options",
    "ShardRun": "mepipe.shards.write",
    "run_shards": "mepipe.shards.write",
    "write_shards": "mepipe.shards.write",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'mepipe.shards' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
