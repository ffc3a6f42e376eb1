"""The on-disk contract between ingest, the tools that read its output and the trainer.

One module per format, each the only place that states its facts (docs/architecture.md):

  manifest     `<data>/<db>/manifest.parquet`: its name, columns and their types, the
               clip status, and the one reader (docs/manifest.md)
  sample       a clip's members in a shard (`neutral`, `e0`..`e4`, `json`): their names,
               the one tar member writer with deterministic headers, the one reader
               (docs/shards.md)
  split_table  the LOSO split table: its columns, reader and checker (docs/splits.md)

The shard index (`shards/index.json`) has its owner in `mepipe.shards.index`.
"""
