#!/usr/bin/env bash
# One short, prepared GPU check of mepipe-train (well under 5 minutes on an H100):
#   1. what is installed (card, Python, torch, the packages mepipe-train imports);
#   2. step times of EIDNet / MTMNet / plain ResNet-18 at 224 px, batch 32, bf16, channels_last;
#   3. one LOSO fold end to end on a rendered 224 px data dir, --device cuda, a few hundred
#      steps over the three phases, and its throughput (samples/s) from the per-step log.
# Results go to $OUT (gpu_check.txt, step_bench.txt, metrics.json, log.csv, confusion.png).
#
# Run from the repository root:  bash benchmarks/gpu_check.sh
# The lent machine has no internet. If its python lacks webdataset (it did as of 2026-11),
# carry wheels in .whl/ (they are installed to /tmp/site here), made beforehand with:
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --implementation cp --platform manylinux2014_x86_64 -d .whl webdataset==1.0.2 braceexpand==0.1.7
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu_check_out}
WORK=${WORK:-/tmp/gpu_check_work}
PY=${PYTHON:-python3}
# Overridable for a CPU dry run of the script itself:
#   DEVICE=cpu SIZE=64 SUBJECTS=2 CLIPS=3 EPOCHS=1 BATCH=4 bash benchmarks/gpu_check.sh
DEVICE=${DEVICE:-cuda} SIZE=${SIZE:-224} SUBJECTS=${SUBJECTS:-10} CLIPS=${CLIPS:-20}
EPOCHS=${EPOCHS:-10} BATCH=${BATCH:-32}
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$OUT" "$WORK"
REPORT="$OUT/gpu_check.txt"
: >"$REPORT"
say() { echo "$@" | tee -a "$REPORT"; }

say "== environment"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee -a "$REPORT"
$PY --version 2>&1 | tee -a "$REPORT"
if ! $PY -c "import torch" 2>/dev/null; then
    say "torch is NOT installed for $PY; installed packages:"
    $PY -m pip list 2>&1 | tee -a "$REPORT"
    exit 2
fi
if ls .whl/*.whl >/dev/null 2>&1; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl &&
        export PYTHONPATH="$PYTHONPATH:/tmp/site" && say "installed carried wheels: $(ls .whl)"
fi
$PY - <<'EOF' 2>&1 | tee -a "$REPORT"
import importlib
import torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())
if torch.cuda.is_available():
    print("card", torch.cuda.get_device_name(0), "bf16", torch.cuda.is_bf16_supported())
for name in ("torchvision", "numpy", "pandas", "pyarrow", "cv2", "webdataset", "click", "rich", "matplotlib", "skimage"):
    try:
        module = importlib.import_module(name)
        print(f"{name:12} {getattr(module, '__version__', '?')}")
    except Exception as exc:
        print(f"{name:12} MISSING ({exc})")
EOF
if ! $PY -c "import torch, webdataset, cv2, pandas, pyarrow, matplotlib, skimage" 2>/dev/null; then
    say "a package mepipe-train needs is missing (see above): carry its wheel in .whl/"
    exit 3
fi
if [ "$DEVICE" = cuda ] && ! $PY -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    say "torch sees no CUDA device"
    exit 4
fi

say "== step times ($SIZE px, batch $BATCH on $DEVICE; bf16 autocast and channels_last on cuda)"
timeout 120 $PY benchmarks/step_bench.py --device "$DEVICE" --batch "$BATCH" --size "$SIZE" --steps 20 --warmup 5 2>&1 |
    tee "$OUT/step_bench.txt" | tee -a "$REPORT"

say "== one LOSO fold on rendered $SIZE px data"
began=$(date +%s)
$PY -m mepipe_train.cli synthetic --out "$WORK/data" --size "$SIZE" --subjects "$SUBJECTS" --clips "$CLIPS" >/dev/null || exit 5
say "data rendered in $(($(date +%s) - began)) s"
began=$(date +%s)
timeout 200 $PY -m mepipe_train.cli loso --data "$WORK/data" --split "$WORK/data/split.parquet" \
    --out "$WORK/run" --folds 0 --device "$DEVICE" --image-size "$SIZE" --batch-size "$BATCH" \
    --epochs "$EPOCHS" --eid-epochs "$EPOCHS" --weights none --workers 8 2>&1 | tail -n 12 | tee -a "$REPORT"
status=${PIPESTATUS[0]}
wall=$(($(date +%s) - began))
say "loso exit $status, wall ${wall} s"
cp "$WORK/run/metrics.json" "$WORK/run/log.csv" "$WORK/run/confusion.png" "$OUT/" 2>/dev/null
$PY - "$WORK/run/log.csv" "$wall" <<'EOF' 2>&1 | tee -a "$REPORT"
import sys
import pandas as pd
import torch
log = pd.read_csv(sys.argv[1])
print("card:", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU")
for phase, rows in log.groupby("phase", sort=False):
    print(f"{phase:18} steps {len(rows):4d}  samples/s {rows['samples'].sum() / rows['seconds'].sum():8.1f} (step time only)")
print(f"all phases: {len(log)} steps, {log['samples'].sum()} samples, "
      f"{log['samples'].sum() / float(sys.argv[2]):.1f} samples/s wall-clock (loading, saving, prediction included)")
EOF
exit "$status"
