"""The layering of docs/architecture.md, checked by import-linter (contracts in
.importlinter): `mepipe` never imports `mepipe_train`, the library never imports the
command layer, and click (and rich, outside progress bars) only the command layer uses."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` on the packages and .importlinter under `root`."""
    code = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports())"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True
    )
    if "No module named 'importlinter'" in result.stderr:
        pytest.fail("import-linter is missing: it is in the test extra, pip install -e '.[test]'")
    return result


def copy_project(tmp_path: Path) -> Path:
    for name in ("mepipe", "mepipe_train"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    return tmp_path


def test_the_project_keeps_its_layering_contracts():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "source", "contract"),
    [
        ("mepipe/demo/loop.py", "import mepipe_train.loso\n", "never the reverse"),
        ("mepipe/stats_view.py", "import click\n", "click only in the command layer"),
        ("mepipe_train/table.py", "from rich.table import Table\n", "rich only in the command"),
        ("mepipe/split_cli.py", "from mepipe.cli.common import data_option\n", "command layer"),
    ],
)
def test_a_wrong_import_breaks_a_contract(tmp_path: Path, module: str, source: str, contract: str):
    root = copy_project(tmp_path)
    (root / module).write_text(f'"""A module in the wrong layer."""\n\n{source}')
    result = lint_imports(root)
    assert result.returncode != 0
    broken = [line for line in result.stdout.splitlines() if " BROKEN" in line]
    assert len(broken) == 1 and contract in broken[0], result.stdout


# Each on-disk format fact, as it is spelled in code, and the one module allowed to state
# it (mepipe.contract; docs/architecture.md). Reading a column by name is fine; stating the
# file name, a member name, the column list or a tar header anywhere else is not.
FORMAT_FACTS = {
    '"manifest.parquet"': "mepipe/contract/manifest.py",
    '"e0"': "mepipe/contract/sample.py",
    "TarInfo(": "mepipe/contract/sample.py",
    '"w", format=tarfile': "mepipe/contract/sample.py",
    "SPLIT_COLUMNS = ": "mepipe/contract/split_table.py",
    '"held_out",': "mepipe/contract/split_table.py",
}


def test_each_format_fact_is_stated_in_one_module():
    sources = [
        p
        for folder in ("mepipe", "mepipe_train", "benchmarks")
        for p in (ROOT / folder).rglob("*.py")
    ]
    for fact, owner in FORMAT_FACTS.items():
        stated = sorted(str(p.relative_to(ROOT)) for p in sources if fact in p.read_text())
        assert stated == [owner], f"{fact} is stated in {stated}"
