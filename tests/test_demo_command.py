"""`mepipe demo-data`: six releases in their real layouts plus the ground truth."""

import json
from pathlib import Path

from click.testing import CliRunner

from mepipe.adapters import ADAPTERS
from mepipe.cli import main


def test_demo_data_writes_every_release_and_its_truth(tmp_path: Path):
    result = CliRunner().invoke(main, ["demo-data", str(tmp_path / "raw")])
    assert result.exit_code == 0, result.output
    truth = json.loads((tmp_path / "raw" / "ground_truth.json").read_text())
    assert set(truth) == set(ADAPTERS)
    for database in ADAPTERS:
        root = tmp_path / "raw" / database
        # Each release is recognised as itself and as nothing else.
        assert [name for name, c in ADAPTERS.items() if c.looks_like(root)] == [database]
        assert len({c["subject"] for c in truth[database]}) >= 2
        labels = {c["label"] for c in truth[database] if c["label"]}
        assert len(labels) >= 3, (database, labels)
