"""`mepipe split loso`: folds, roles and macro clips on hand-made manifests."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner
from protocol_manifests import CASME2, clip, write_all, write_manifest

from mepipe.cli import main
from mepipe.contract.split_table import SPLIT_COLUMNS
from mepipe.errors import MepipeError
from mepipe.split import loso_split, read_manifests

CDE_FOLDS = [
    "casme2/sub01",
    "casme2/sub02",
    "samm/006",
    "samm/s1",
    "smic/s1",
    "smic/s3",
]
# Clips that cde uses: not rejected, cde label set (flagged ones stay).
CDE_CLIPS = {
    "casme2__sub01__EP02_01f": "positive",
    "casme2__sub01__EP19_05f": "negative",
    "casme2__sub02__EP01_11f": "surprise",
    "casme2__sub02__EP02_04f": "negative",
    "smic__s1__s1_ne_01": "negative",
    "smic__s1__s1_po_02": "positive",
    "smic__s3__s3_sur_01": "surprise",
    "samm__006__006_1_2": "negative",
    "samm__s1__s1_x_1": "positive",
}


@pytest.fixture
def data(tmp_path):
    return write_all(tmp_path / "data")


def run(*args: str):
    return CliRunner().invoke(main, list(args), env={"COLUMNS": "200"})


def test_one_fold_per_database_subject_pair(data):
    split = loso_split(data, "cde")
    assert list(split.columns) == list(SPLIT_COLUMNS)
    folds = split.drop_duplicates("fold")[["fold", "held_out"]]
    assert list(folds["fold"]) == list(range(len(CDE_FOLDS)))
    assert list(folds["held_out"]) == CDE_FOLDS  # smic/s1 and samm/s1 are two folds
    for _, rows in split.groupby("fold"):
        held_out = rows["held_out"].iloc[0]
        tested = rows[rows["role"] == "test"]
        assert set(tested["database"] + "/" + tested["subject"]) == {held_out}
        # Every usable clip once per fold, and nothing else.
        assert dict(zip(rows["key"], rows["label"], strict=True)) == CDE_CLIPS
        assert len(tested) == sum(
            k.startswith(held_out.replace("/", "__") + "__") for k in CDE_CLIPS
        )
    assert (split["domain"] == "micro").all()


def test_labels_and_indices_follow_the_scheme(data):
    split = loso_split(data, "cde")
    assert dict(zip(split["label"], split["label_index"], strict=True)) == {
        "negative": 0,
        "positive": 1,
        "surprise": 2,
    }
    assert "casme2__sub02__EP08_04" not in set(split["key"])  # rejected
    assert "casme2__sub04__EP12_01f" not in set(split["key"])  # excluded by cde
    assert "smic__s2__s2_sur_01" not in set(split["key"])  # VIS, not in cde


def test_macro_clips_train_in_every_fold_never_test(data):
    split = loso_split(data, "cde", macro=["ckplus"])
    assert split["fold"].nunique() == len(CDE_FOLDS)
    macro = split[split["database"] == "ckplus"]
    assert (macro["role"] == "train").all()
    assert (macro["domain"] == "macro").all()
    # Both labelled CK+ clips (the unlabelled one is out) in each of the folds.
    assert macro.groupby("fold")["key"].apply(set).tolist() == [
        {"ckplus__S005__001", "ckplus__S010__002"}
    ] * len(CDE_FOLDS)
    assert set(split["held_out"]) == set(CDE_FOLDS)


def test_single_database_protocol_folds_over_its_own_subjects(data):
    split = loso_split(data, "casme2_5class", macro=["ckplus"])
    # sub03 (others) and sub04 (disgust) count here; sub02's rejected clip does not.
    assert list(split.drop_duplicates("fold")["held_out"]) == [
        "casme2/sub01",
        "casme2/sub02",
        "casme2/sub03",
        "casme2/sub04",
    ]
    assert set(split[split["role"] == "test"]["database"]) == {"casme2"}
    assert set(split["database"]) == {"casme2", "ckplus"}
    # CK+ happiness and disgust match CASME II classes; labels are this scheme's own.
    assert set(split[split["database"] == "ckplus"]["label"]) == {"happiness", "disgust"}


def test_cli_writes_the_split(data, tmp_path):
    out = tmp_path / "splits" / "cde.parquet"
    result = run(
        "split",
        "loso",
        "--protocol",
        "cde",
        "--data",
        str(data),
        "--out",
        str(out),
        "--macro",
        "ckplus",
    )
    assert result.exit_code == 0, result.output
    written = pd.read_parquet(out)
    pd.testing.assert_frame_equal(written, loso_split(data, "cde", ["ckplus"]))
    assert list(out.parent.iterdir()) == [out]  # no temporary file left behind
    assert "6 folds" in result.output


def test_cli_notes_databases_not_ingested(tmp_path):
    write_manifest(tmp_path, "casme2", CASME2)
    out = tmp_path / "s.parquet"
    result = run("split", "loso", "--data", str(tmp_path), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert pd.read_parquet(out)["held_out"].nunique() == 2
    assert "not ingested, so not in the split: smic, samm" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--protocol", "nope"], "unknown protocol 'nope' (known: casme2_5class, cde,"),
        (["--macro", "samm"], "--macro samm: samm is a micro-expression database"),
        (["--macro", "oulu"], "oulu/manifest.parquet: no manifest for --macro oulu"),
        (["--macro", "affectnet"], "unknown database 'affectnet'"),
    ],
)
def test_cli_bad_arguments(data, tmp_path, args, message):
    out = tmp_path / "s.parquet"
    result = run("split", "loso", "--data", str(data), "--out", str(out), *args)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_no_manifest_names_the_folder(tmp_path):
    result = run("split", "loso", "--data", str(tmp_path), "--out", str(tmp_path / "s.parquet"))
    assert result.exit_code == 1
    assert f"{tmp_path}: no manifest found for smic, casme2, samm" in result.output


def test_stale_manifest_without_scheme_column_is_named(tmp_path):
    path = write_manifest(tmp_path, "casme2", CASME2)
    pd.read_parquet(path).drop(columns=["label_cde"]).to_parquet(path)
    with pytest.raises(MepipeError, match="has no column label_cde") as info:
        loso_split(tmp_path, "cde")
    assert info.value.path == str(path)


def test_only_unusable_clips_is_an_error(tmp_path):
    write_manifest(tmp_path, "casme2", [clip("sub01", "EP01", "others")])
    with pytest.raises(MepipeError, match="no clip of smic, casme2, samm has a cde label"):
        loso_split(tmp_path, "cde")


def test_read_manifests_concatenates_and_checks(tmp_path):
    write_all(tmp_path)
    both = read_manifests(tmp_path, ["casme2", "ckplus"])
    assert sorted(set(both["database"])) == ["casme2", "ckplus"]
    assert len(read_manifests(tmp_path)) == 18  # all four manifests
    moved = tmp_path / "samm" / "manifest.parquet"
    moved.rename(tmp_path / "casme2" / "manifest.parquet")
    with pytest.raises(MepipeError, match="manifest in folder 'casme2' holds clips of samm"):
        read_manifests(tmp_path)
