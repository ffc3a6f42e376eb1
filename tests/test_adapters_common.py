"""What every adapter shares: unpacking litter is never part of a release, and each
release takes only the options it declares."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mepipe.adapters import ADAPTERS, adapter_options, open_release
from mepipe.adapters.base import AdapterOptions, VariantOptions
from mepipe.adapters.layout import is_visible
from mepipe.adapters.oulu import OuluOptions
from mepipe.adapters.smic import SmicOptions
from mepipe.demo.macro import write_ckplus, write_mmi, write_oulu
from mepipe.demo.micro import write_casme2, write_samm, write_smic
from mepipe.errors import MepipeError
from mepipe.records import ClipRecord

# Small releases of each database (a few clips, small frames).
WRITERS: dict[str, Callable[[Path], Any]] = {
    "casme2": lambda root: write_casme2(root, subjects=1, clips_per_subject=2, size=(64, 48)),
    "smic": lambda root: write_smic(root, subjects=1, clips_per_subject=2, size=(64, 48)),
    "samm": lambda root: write_samm(root, subjects=1, clips_per_subject=2, size=(64, 48)),
    "ckplus": lambda root: write_ckplus(root, subjects=1, sequences_per_subject=2, size=(64, 48)),
    "oulu": lambda root: write_oulu(root, subjects=1, size=(64, 48)),
    "mmi": lambda root: write_mmi(root, subjects=1, sessions_per_subject=2, size=(64, 48)),
}
LITTER_FILES = (".DS_Store", "Thumbs.db", "desktop.ini", "ehthumbs.db")


def add_litter(root: Path) -> list[Path]:
    """What unpacking on a Mac or browsing on Windows leaves in a release: Finder and
    Explorer files in every folder, a `._name` resource file beside every file, and a
    `__MACOSX/` twin of the whole tree holding a `._name` for every file."""
    added: list[Path] = []
    for folder, _, files in list(os.walk(root)):
        here = Path(folder)
        twin = root / "__MACOSX" / here.relative_to(root)
        twin.mkdir(parents=True, exist_ok=True)
        for name in files:
            for path in (here / f"._{name}", twin / f"._{name}"):
                path.write_bytes(b"\x00\x05\x16\x07 resource fork")
                added.append(path)
        for name in LITTER_FILES:
            (here / name).write_bytes(b"\x00 litter")
            added.append(here / name)
    return added


def summary(record: ClipRecord, root: Path) -> tuple[Any, ...]:
    paths = tuple(str(Path(p).relative_to(root)) for p in record.source.paths)
    video = record.source.video and str(Path(record.source.video).relative_to(root))
    return (
        record.key, record.label, record.source.numbers, paths, video, record.onset,
        record.apex, record.offset, record.apex_source, record.width, record.height,
        record.action_units, record.extra, record.reject_reason, record.flag,
    )  # fmt: skip


@pytest.mark.parametrize("database", sorted(ADAPTERS))
def test_litter_is_never_part_of_a_release(database: str, tmp_path: Path) -> None:
    root = tmp_path / database
    WRITERS[database](root)
    clean = open_release(database, root).parse()
    litter = add_litter(root)
    littered = open_release(database, root).parse()
    assert [summary(r, root) for r in littered.records] == [summary(r, root) for r in clean.records]
    assert (littered.unlabelled, littered.notes) == (clean.unlabelled, clean.notes)
    used = {p for r in littered.records for p in (*r.source.paths, r.source.video) if p}
    assert not used & {str(p) for p in litter}
    assert all(is_visible(p) and "__MACOSX" not in Path(p).parts for p in used)
    # Litter inside the folders an adapter accounts for is listed, never silently a frame.
    assert set(littered.stray_files) >= set(clean.stray_files)


@pytest.mark.parametrize(
    ("name", "visible"),
    [
        ("img46.jpg", True),
        ("._img46.jpg", False),
        (".DS_Store", False),
        ("Thumbs.db", False),
        ("DESKTOP.INI", False),
        ("__MACOSX", False),
        ("__MACOSX/CASME2", True),  # only the name counts; no search enters __MACOSX
        ("sub01", True),
    ],
)
def test_is_visible(name: str, visible: bool) -> None:
    assert is_visible(Path(name)) is visible


def test_each_release_declares_its_own_options() -> None:
    assert ADAPTERS["smic"].Options is SmicOptions
    assert ADAPTERS["oulu"].Options is OuluOptions
    assert ADAPTERS["casme2"].Options is VariantOptions
    for name in ("samm", "ckplus", "mmi"):  # nothing to choose in these releases
        assert ADAPTERS[name].Options is AdapterOptions
    given = {"variant": "cropped", "subsets": ("HS",), "modality": "NI", "lighting": "Dark"}
    assert adapter_options("smic", **given) == SmicOptions(variant="cropped", subsets=("HS",))
    assert adapter_options("oulu", **given) == OuluOptions("cropped", "NI", "Dark")
    assert adapter_options("ckplus", **given) == AdapterOptions()
    assert adapter_options("oulu", modality=None) == OuluOptions()  # None: not given


def test_another_release_s_options_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "smic"
    WRITERS["smic"](root)
    with pytest.raises(MepipeError, match="SMIC takes SmicOptions, not OuluOptions"):
        open_release("smic", root, OuluOptions())


@pytest.mark.parametrize("database", sorted(ADAPTERS))
def test_a_folder_of_litter_is_an_empty_release(database: str, tmp_path: Path) -> None:
    for name in (*LITTER_FILES, "__MACOSX"):
        (tmp_path / name).mkdir()
    with pytest.raises(MepipeError, match="release folder is empty"):
        open_release(database, tmp_path)
