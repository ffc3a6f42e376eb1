"""WebDataset shards of aligned clips, one group of shards per subject (docs/shards.md).

`write_shards` is the entry point `mepipe ingest` calls; `add_shard_options` and
`shard_options_from_cli` give it the command-line flags.
"""

from mepipe.shards.options import ShardOptions, add_shard_options, shard_options_from_cli
from mepipe.shards.write import ShardRun, run_shards, write_shards

__all__ = [
    "ShardOptions",
    "ShardRun",
    "add_shard_options",
    "run_shards",
    "shard_options_from_cli",
    "write_shards",
]
