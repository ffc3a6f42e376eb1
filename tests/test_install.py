"""An installed mepipe finds its protocol files without the checkout (docs/protocols.md).

The package tree is built the way the wheel gets it (`setup.py build_py`, from a copy of
the sources) and imported from a folder outside the checkout. `.ci/wheel-check` goes the
whole way: a wheel, a fresh virtual environment, the commands.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SOURCES = (
    "setup.py",
    "setup.cfg",
    "pyproject.toml",
    "README.md",
    "mepipe",
    "mepipe_train",
    "manifests",
)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The package tree a wheel holds (site-packages after `pip install mepipe.whl`)."""
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        if not (REPO / name).exists():
            continue
        if (REPO / name).is_dir():
            shutil.copytree(
                REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy2(REPO / name, source / name)
    lib = tmp_path_factory.mktemp("site-packages")
    subprocess.run(
        [sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(lib)],
        cwd=source,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return lib


def run_python(args: list[str], lib: Path, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """Python with `lib` as its only mepipe, started in `cwd`, outside the checkout."""
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MEPIPE_MANIFESTS")}
    return subprocess.run(
        [sys.executable, *args],
        env={**clean, "PYTHONPATH": str(lib), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def toml_files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.toml"))}


def test_the_package_carries_the_protocol_files_of_manifests(built):
    carried = toml_files(built / "mepipe" / "manifests")
    assert "schemes/cde.toml" in carried and "databases.toml" in carried
    assert carried == toml_files(REPO / "manifests")  # the same files, byte for byte


SHOW = (
    "import mepipe, mepipe.protocols as p; "
    "print(mepipe.__file__); print(p.manifests_dir()); print(' '.join(p.scheme_names())); "
    "print(p.load_scheme('cde').expected['samm']['subjects'])"
)


def test_installed_package_reads_its_own_copy_outside_the_checkout(built, tmp_path):
    done = run_python(["-c", SHOW], built, tmp_path)
    assert done.returncode == 0, done.stderr
    module, folder, schemes, samm_subjects = done.stdout.splitlines()
    assert Path(module).is_relative_to(built)
    assert Path(folder) == built / "mepipe" / "manifests"
    assert "cde" in schemes.split()
    assert samm_subjects == "28"


def test_mepipe_manifests_still_overrides_an_install(built, tmp_path):
    mine = tmp_path / "mine"
    shutil.copytree(REPO / "manifests", mine)
    text = (mine / "schemes" / "smic_3class.toml").read_text()
    (mine / "schemes" / "mine.toml").write_text(
        text.replace('name = "smic_3class"', 'name = "mine"')
    )
    done = run_python(["-c", SHOW], built, tmp_path, MEPIPE_MANIFESTS=str(mine))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1] == str(mine)
    assert "mine" in done.stdout.splitlines()[2].split()


def test_an_install_without_protocol_files_says_so_in_one_line(built, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(built, broken)
    shutil.rmtree(broken / "mepipe" / "manifests")
    args = ["-m", "mepipe", "stats", "--data", str(tmp_path), "--protocol", "cde"]
    done = run_python(args, broken, tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "Error: the protocol files are missing from this install (looked in "
        f"{broken / 'mepipe' / 'manifests'} and {broken / 'manifests'}); "
        "reinstall mepipe or set MEPIPE_MANIFESTS"
    ]
