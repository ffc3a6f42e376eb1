"""README's demo command end to end: `mepipe-train demo --out OUT` runs the data half
(`mepipe demo`: demo releases -> ingest with aligned shards -> verify -> split -> stats ->
contact sheets), then a tiny LOSO of mepipe-train on those shards."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image

from mepipe.cli import main
from mepipe.protocols import load_scheme
from mepipe.records import clip_key
from mepipe.sheet import CAPTION_WIDTH, GAP, TILE
from mepipe_train.cli import main as train_main


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, dict]:
    """README's demo command: `mepipe-train demo --out OUT` (the data half, then training)."""
    out = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(train_main, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "5. contact sheets" in result.output and "UF1" in result.output
    assert "7. final model on all subjects" in result.output and "mepipe predict:" in result.output
    # the command layer prints each database's alignment timings (mepipe.cli.ingest)
    assert "clips aligned in" in result.output and "ms / clip" in result.output
    split = out / "splits" / "cde_loso.parquet"
    assert split.exists() and (out / "data").is_dir()
    metrics = json.loads((out / "run" / "metrics.json").read_text())
    return out, {"split": split, "metrics": metrics}


def test_data_half_prints_the_training_line_that_runs_on_its_output(demo, monkeypatch):
    """`mepipe demo` alone ends with the `mepipe-train demo` line for its data; that line
    trains on the data as it stands (here: the fixture's, written by the same data half)."""
    import mepipe.cli.demo as demo_cli

    out, _ = demo
    written = demo_cli.DemoData(data=out / "data", split=out / "splits" / "cde_loso.parquet")
    monkeypatch.setattr(demo_cli, "run_demo_data", lambda folder, console: written)
    data_half = CliRunner().invoke(main, ["demo", "--out", str(out)])
    assert data_half.exit_code == 0, data_half.output
    train_line = next(
        line for line in data_half.output.splitlines() if line.startswith("mepipe-train demo ")
    )
    args = train_line.split()
    assert Path(args[args.index("--data") + 1]) == out / "data"
    assert Path(args[args.index("--split") + 1]) == out / "splits" / "cde_loso.parquet"
    assert Path(args[args.index("--out") + 1]) == out / "run"


def test_every_database_has_aligned_shards_that_verify(demo):
    out, _ = demo
    result = CliRunner().invoke(main, ["verify", "--data", str(out / "data")])
    assert result.exit_code == 0, result.output
    for database in ("casme2", "smic", "samm", "ckplus", "oulu", "mmi"):
        manifest = pd.read_parquet(out / "data" / database / "manifest.parquet")
        usable = manifest[manifest.status != "rejected"]
        assert len(usable) > 0 and usable["shard"].notna().all(), database
        assert usable["flow"].str.startswith("farneback ").all(), database  # flow is on
        sheet = Image.open(out / "sheets" / f"{database}.png")
        assert sheet.width == CAPTION_WIDTH + 8 * (TILE + GAP)  # + difference and flow columns
        assert (out / "sheets" / f"{database}.png").stat().st_size > 10_000


def test_face_checks_reject_the_second_person_and_keep_every_single_face(demo):
    """Both directions of the several-faces check on the whole demo: the sequence with a
    second person is rejected for it, and no other clip is rejected at all, although the
    demo face's suit carries a printed face that FaceMesh takes for a second face on some
    subjects (mepipe.demo.face)."""
    out, _ = demo
    truth = json.loads((out / "raw" / "ground_truth.json").read_text())
    crowded = 0
    for database, clips in truth.items():
        manifest = pd.read_parquet(out / "data" / database / "manifest.parquet").set_index("key")
        for clip in clips:
            key = clip_key(database, clip["subject"], clip["clip"])
            if clip["label"] is None or clip["rejected"] or key not in manifest.index:
                continue
            row = manifest.loc[key]
            if clip["align_rejected"]:
                crowded += 1
                assert row.status == "rejected" and row.reason.startswith(clip["align_rejected"])
            else:
                assert row.status != "rejected", (key, row.reason)
    assert crowded == 1


def test_split_covers_the_composite_set_of_the_demo(demo):
    out, result = demo
    split = pd.read_parquet(result["split"])
    truth = json.loads((out / "raw" / "ground_truth.json").read_text())
    cde = load_scheme("cde")
    expected_subjects = {
        (db, c["subject"])
        for db in cde.evaluated
        for c in truth[db]
        if c["label"]
        and cde.label_for(db, c["subject"], c["clip"], c["label"], c["extra"].get("subset"))[0]
    }
    assert split.fold.nunique() == len(expected_subjects)
    assert set(split[split.domain == "macro"].role) == {"train"}
    for _, fold in split.groupby("fold"):
        tested = fold[fold.role == "test"]
        assert tested.held_out.nunique() == 1
        held = tested.held_out.iloc[0]
        assert not (
            fold[fold.role == "train"].database + "/" + fold[fold.role == "train"].subject == held
        ).any()


def test_training_ran_on_the_shards_and_reported_metrics(demo):
    out, result = demo
    metrics = json.loads((out / "run" / "metrics.json").read_text())
    assert metrics == result["metrics"]
    assert metrics["classes"] == ["negative", "positive", "surprise"]
    assert {"uf1", "uar", "acc", "f1"} <= set(metrics["scores"]["all"])
    for picture in ("confusion.png", "reconstruction.png"):
        assert (out / "run" / picture).stat().st_size > 5_000
    predictions = pd.read_parquet(out / "run" / "predictions.parquet")
    split = pd.read_parquet(result["split"])
    tested = split[split.role == "test"]
    for fold, rows in predictions.groupby("fold"):
        assert set(rows.key) == set(tested[tested.fold == fold].key)


def megc_list(truth: dict) -> list[str]:
    """The demo's composite set written the way the official MEGC 2019 list spells it."""
    cde = load_scheme("cde")
    lines = []
    for db in cde.evaluated:
        for c in truth[db]:
            label, _ = cde.label_for(
                db, c["subject"], c["clip"], c["label"], c["extra"].get("subset")
            )
            if label is None or c["rejected"] or c["align_rejected"]:
                continue
            subject, clip = c["subject"], c["clip"]
            if db == "samm":
                subject = str(int(subject))
            if db == "smic":
                subject = f"s{int(subject[1:]):02d}"
                clip = subject + clip[clip.index("_") :]
            lines.append(f"{db},{subject},{clip},{cde.class_index(label)}")
    return lines


def test_check_protocol_against_a_list_in_the_official_format(demo, tmp_path: Path):
    out, _ = demo
    lines = megc_list(json.loads((out / "raw" / "ground_truth.json").read_text()))
    reference = tmp_path / "megc.csv"
    reference.write_text("\n".join(lines) + "\n")
    args = ["check-protocol", "--data", str(out / "data"), "--reference", str(reference)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    database, subject, clip, label = lines[0].split(",")
    lines[0] = f"{database},{subject},{clip},{(int(label) + 1) % 3}"
    reference.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert "0 missing, 0 extra, 1 mislabelled" in result.output
    # The report names the clip in the manifest's spelling (SMIC s01_ne_01 -> s1_ne_01).
    assert (
        clip.replace("s0", "s", 1) in result.output if database == "smic" else clip in result.output
    )


def test_demo_ends_with_a_final_model_and_predict_on_a_demo_video(demo):
    """`final` on all subjects, then `predict` on the demo video with that model: the
    injected micro-expression is spotted and classified (mepipe.demo.video)."""
    from mepipe.contract.model import read_model_card
    from mepipe.demo.video import DEMO_EVENTS

    out, _ = demo
    final = out / "run" / "final"
    card = read_model_card(final / "model")
    assert card.classes == ("negative", "positive", "surprise") and card.image_size == 64
    assert card.crop_size == 224  # the demo data's ingest size, used to align the video
    table = pd.read_csv(final / "predict" / "intervals.csv")
    micro = table[table.kind == "micro"]
    assert len(micro) == 1 and abs(int(micro.apex_frame.iloc[0]) - DEMO_EVENTS[0].apex) <= 2
    assert set(table["class"]) <= set(card.classes)
    assert (final / "predict" / "timeline.png").exists()
