"""`mepipe-train report RUN`: RUN/report.md and its PNGs (RUN/report/), a page from which a
person can understand the run: the three results (fixed epoch, inner validation, the
leaky oracle with its inflation) overall and per database, confusion matrices, learning
curves, per-subject results, the configuration and the data it used (sha256 of every
manifest, shard index and split file). Everything comes from what the run saved; nothing
is trained or predicted here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from mepipe.atomic import write_bytes
from mepipe.contract.manifest import manifest_path, read_manifest
from mepipe.errors import MepipeError, one_line
from mepipe.protocols import load_scheme
from mepipe.shards.index import INDEX_NAME, sha256_of
from mepipe.tables import read_table
from mepipe_train import report
from mepipe_train.config import TrainConfig, load_config
from mepipe_train.evaluation import (
    FIXED,
    INNER,
    LABELS,
    ORACLE,
    missing_folds_line,
    predictions_file,
)
from mepipe_train.flowfold import model_title, trained_epochs
from mepipe_train.metrics import confusion
from mepipe_train.seeds import seed_dir
from mepipe_train.selection import SELECTION, read_selection

REPORT = "report.md"
FIGURES = "report"
EXPLAIN = {
    FIXED: "the network after the configured number of epochs (as in predictions.parquet)",
    INNER: "each fold's held-out predictions at the epoch with the best pooled UF1 on an "
    "inner split of that fold's own training subjects (the held-out subject plays no part)",
    ORACLE: "for each held-out subject its best epoch on that same subject, as the public "
    "code of several published methods does: leaky and optimistic, never a result",
}


def run_folders(run: Path, config: TrainConfig) -> list[Path]:
    """The folders that hold folds: RUN, or RUN/seed-<s> for each seed of --seeds."""
    if len(config.seed_list) > 1:
        return [seed_dir(run, s) for s in config.seed_list if seed_dir(run, s).exists()]
    return [run]


def warnings_of(metrics: dict) -> list[str]:
    """The loud lines a reader must see before any number."""
    lines = [missing_folds_line(metrics)]
    if metrics.get("missing_seeds"):
        lines.append(f"WARNING: seeds {metrics['missing_seeds']} have no finished fold")
    runs = [metrics] if "per_seed" not in metrics else list(metrics["per_seed"].values())
    lacking = sorted({f for m in runs for f in m.get("folds_without_diagnostics", [])})
    if lacking:
        lines.append(
            f"WARNING: folds {lacking} have no per-epoch held-out predictions: the oracle "
            "and inner-validation results leave them out"
        )
    for m in runs:
        inner = m.get("results", {}).get(INNER)
        if inner is not None and len(inner["folds"]) < len(m["folds"]):
            lines.append(
                f"WARNING: only {len(inner['folds'])} of {len(m['folds'])} finished folds have "
                "an inner-validation choice (inner_selection.json); the inner result leaves "
                "the others out"
            )
            break
    return [line for line in lines if line]


def fmt(value: float) -> str:
    return "n/a" if value != value else f"{value:.3f}"  # NaN != NaN


def results_table(metrics: dict) -> list[str]:
    """Markdown rows: result x part, UF1 UAR Acc F1 (mean ± sd over seeds when several)."""
    header = ["| result | part | clips | UF1 | UAR | Acc | F1 |", "|---|---|---|---|---|---|---|"]
    rows = []
    if "summary" in metrics:
        for kind in (FIXED, INNER, ORACLE):
            if kind not in metrics["summary"]:
                continue
            result = metrics["summary"][kind]
            for table, name in (("scores", result["label"]),
                                ("inflation", "inflation (oracle − fixed, same folds)")):  # fmt: skip
                for part, values in result.get(table, {}).items():
                    cells = [f"{values[k]['mean']:+.3f} ± {values[k]['std']:.3f}"
                             if table == "inflation" else
                             f"{values[k]['mean']:.3f} ± {values[k]['std']:.3f}"
                             for k in ("uf1", "uar", "acc", "f1")]  # fmt: skip
                    rows.append(f"| {name} | {part} | - | {' | '.join(cells)} |")
        return header + rows
    for kind in (FIXED, INNER, ORACLE):
        if kind not in metrics["results"]:
            continue
        result = metrics["results"][kind]
        for part, s in result["scores"].items():
            cells = [fmt(s[k]) for k in ("uf1", "uar", "acc", "f1")]
            rows.append(f"| {result['label']} | {part} | {s['samples']} | {' | '.join(cells)} |")
        if kind == ORACLE:
            for part, d in result["inflation"].items():
                cells = [f"{d[k]:+.3f}" for k in ("uf1", "uar", "acc", "f1")]
                rows.append(f"| inflation (oracle − fixed, same folds) | {part} | | "
                            f"{' | '.join(cells)} |")  # fmt: skip
    return header + rows


def seeds_table(metrics: dict) -> list[str]:
    if "per_seed" not in metrics:
        return []
    lines = ["", "Each seed (overall UF1 / UAR):", "", "| seed | " +
             " | ".join(LABELS[k] for k in metrics["summary"]) + " |",
             "|---|" + "---|" * len(metrics["summary"])]  # fmt: skip
    for seed, m in metrics["per_seed"].items():
        cells = []
        for kind in metrics["summary"]:
            s = m["results"].get(kind, {}).get("scores", {}).get("all")
            cells.append(f"{fmt(s['uf1'])} / {fmt(s['uar'])}" if s else "-")
        lines.append(f"| {seed} | {' | '.join(cells)} |")
    return lines


def loss_curves(folders: list[Path]) -> dict[str, dict[str, list[float]]]:
    """{phase kind: {term: mean per epoch}} over the folds' and seeds' step logs."""
    logs = []
    for folder in folders:
        path = folder / "log.csv"
        if path.exists() and path.read_bytes().strip():  # no phase trained: no rows
            try:
                logs.append(pd.read_csv(path))
            except (ValueError, OSError) as exc:
                raise MepipeError(f"cannot read the step log ({one_line(exc)})", path) from None
    if not logs:
        return {}
    log = pd.concat(logs, ignore_index=True)
    log["kind"] = log["phase"].astype(str).str.split().str[-1]
    curves: dict[str, dict[str, list[float]]] = {}
    for kind, rows in log.groupby("kind", sort=False):
        for prefix, title in (("L_", kind), ("grad_", f"{kind} encoder gradient norm")):
            terms = [c for c in rows.columns if c.startswith(prefix) and rows[c].notna().any()]
            if terms:
                means = rows.groupby("epoch")[terms].mean()
                curves[title] = {t: means[t].dropna().tolist() for t in terms}
    return curves


def inner_curve(folders: list[Path]) -> list[float]:
    """Inner-validation UF1 per epoch, averaged over folds (and seeds)."""
    paths = [p for f in folders for p in sorted(f.glob(f"fold-*/{SELECTION}"))]
    series = [read_selection(p).get("scores_by_epoch", []) for p in paths]
    series = [s for s in series if s]
    if not series:
        return []
    return pd.DataFrame(series).mean().tolist()


def per_subject(run: Path, kinds: list[str]) -> list[str]:
    """Markdown rows: each held-out subject's clips and accuracy under each result."""
    tables = {k: read_table(run / predictions_file(k), f"the {k} predictions") for k in kinds
              if (run / predictions_file(k)).exists()}  # fmt: skip
    fixed = tables[FIXED]
    keys = ["database", "subject"]
    out = fixed.groupby(keys).size().rename("clips").to_frame()
    for kind, table in tables.items():
        right = (table["true_index"] == table["pred_index"]).groupby([table[k] for k in keys])
        out[kind] = right.mean()
        if "epoch" in table.columns and "seed" not in table.columns:
            out[f"{kind} epoch"] = table.groupby(keys)["epoch"].first() + 1
    names = {FIXED: "fixed acc", INNER: "inner acc", ORACLE: "oracle acc (leaky)"}
    columns = list(out.columns)
    head = ["database", "subject"] + [names.get(c, c) for c in columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (database, subject), row in out.iterrows():
        cells = [str(int(row[c])) if c == "clips" or c.endswith("epoch") else fmt(row[c])
                 for c in columns]  # fmt: skip
        lines.append(f"| {database} | {subject} | {' | '.join(cells)} |")
    return lines


def data_hashes(config: TrainConfig, databases: list[str]) -> list[str]:
    """Markdown rows: sha256 of each manifest, shard index and the split file used."""
    lines = ["| file | sha256 |", "|---|---|"]
    files = [Path(config.split)] if config.split else []
    for database in databases:
        manifest = manifest_path(config.data, database)
        files.append(manifest)
        if manifest.exists():
            table = read_manifest(manifest, require=())
            if "shard" in table.columns:
                parents = {(manifest.parent / s).parent for s in table["shard"].dropna()}
                files += sorted(p / INDEX_NAME for p in parents)
    for path in files:
        digest = sha256_of(path) if path.is_file() else "(not found now)"
        lines.append(f"| `{path}` | `{digest}` |")
    return lines


def method_line(config: TrainConfig) -> str:
    """What trained: EIDNet/MTMNet's losses and EID pretraining, or the flow model."""
    if config.model != "eidnet":
        return f"`--model {config.model}` on optical flow"
    eid = "with" if config.eid else "without"
    return f"losses `{','.join(config.losses)}`, {eid} EID pretraining"


def write_report(run: str | Path) -> tuple[Path, dict]:
    """Evaluate RUN again, then write RUN/report.md and RUN/report/*.png; returns the page's
    path and the metrics."""
    from mepipe_train.loso import evaluate

    run = Path(run)
    config = load_config(run)
    metrics = evaluate(run)
    classes = load_scheme(config.protocol).classes
    figures = run / FIGURES
    figures.mkdir(exist_ok=True)
    folders = run_folders(run, config)
    present = metrics["summary"] if "summary" in metrics else metrics["results"]
    kinds = [k for k in (FIXED, INNER, ORACLE) if k in present]
    fixed = read_table(run / predictions_file(FIXED), "the fixed-epoch predictions")
    lines = [f"# Run report: `{run.name}`", ""]
    lines += [f"> **{w}**" for w in warnings_of(metrics)]
    seeds = f"seeds {metrics['seeds']}" if "seeds" in metrics else f"seed {config.seed}"
    lines += [
        "",
        f"Protocol `{config.protocol}` ({', '.join(classes)}), {method_line(config)}, "
        f"{trained_epochs(config)} {model_title(config)} epochs, "
        f"epoch selection `{config.select}`, {seeds}; "
        f"{fixed['fold'].nunique()} folds, {len(fixed)} clip predictions.",
        "",
        "## Results",
        "",
    ]
    lines += [f"- **{LABELS[k]}**: {EXPLAIN[k]}." for k in kinds]
    lines += ["", *results_table(metrics), *seeds_table(metrics), ""]
    rows = []
    summary = metrics.get("summary") or metrics["results"]
    for kind in kinds:
        for part, s in summary[kind]["scores"].items():
            uf1 = s["uf1"]["mean"] if isinstance(s["uf1"], dict) else s["uf1"]
            rows.append((part, LABELS[kind], uf1))
    report.results_png(rows, figures / "results.png")
    lines += ["![UF1 by result](report/results.png)", "", "## Confusion matrices (fixed epoch)", ""]
    if "seed" in fixed.columns:
        lines += ["Counts summed over the seeds.", ""]
    for database, part in [("all", fixed), *sorted(fixed.groupby("database"))]:
        matrix = confusion(part["true_index"], part["pred_index"], len(classes))
        name = f"confusion-{database}.png"
        report.confusion_png(matrix, classes, f"{database}, fixed epoch, {len(part)} clips",
                             figures / name)  # fmt: skip
        lines.append(f"![{database}](report/{name})")
    per_run = [metrics] if "per_seed" not in metrics else list(metrics["per_seed"].values())
    heldout = [m.get("heldout_uf1_by_epoch", []) for m in per_run]
    heldout = pd.DataFrame([h for h in heldout if h]).mean().tolist() if any(heldout) else []
    report.learning_curves_png(loss_curves(folders), heldout, inner_curve(folders),
                               figures / "curves.png")  # fmt: skip
    lines += [
        "",
        "## Learning curves",
        "",
        "Training losses per term (mean over the steps of each epoch, all folds). The UF1 per "
        "epoch of the held-out clips, pooled over folds, is a **diagnostic**: it was written "
        "after each epoch and never read by training or by the choice of an epoch.",
        "",
        "![learning curves](report/curves.png)",
        "",
        "## Per-subject results",
        "",
        *per_subject(run, kinds),
        "",
        "## Configuration",
        "",
        "```json",
        json.dumps(config.to_dict(), indent=2),
        "```",
        "",
        "## Data",
        "",
    ]
    databases = sorted(set(fixed["database"]) | (set(config.macro) if config.needs_macronet
                                                 else set()))  # fmt: skip
    lines += data_hashes(config, databases)
    page = run / REPORT
    write_bytes(page, ("\n".join(lines) + "\n").encode())
    return page, metrics


def check_run(run: Path) -> None:
    if not (run / "config.json").exists():
        raise MepipeError("not a run folder (no config.json)", run)
