#!/usr/bin/env bash
# One short, prepared GPU check of mepipe-train (well under 5 minutes on an H100):
#   1. what is installed (card, Python, torch, the packages mepipe-train imports);
#   2. step times of EIDNet / MTMNet / plain ResNet-18 at 224 px, batch 32, bf16, channels_last;
#   3. benchmarks/loso_bench.py --full: CDE-shaped rendered data at 224 px (476 micro clips of
#      68 subjects, 329 macro), MacroNet once, fold 0 end to end with the paper's 20 + 20
#      epochs before (streamed, a checkpoint every epoch) and after issue 12 (clips on the
#      GPU, checkpoints at phase ends), --jobs $JOBS folds at once, per-phase samples/s,
#      GPU utilisation and the projected full-protocol time at K = 1, 2, 4, 8 (about 4-5 min).
# Results go to $OUT (gpu_check.txt, step_bench.txt, loso_bench.txt, loso_bench.json).
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
#   DEVICE=cpu SIZE=32 BATCH=4 BENCH_SIZE= JOBS=2 bash benchmarks/gpu_check.sh
DEVICE=${DEVICE:-cuda} SIZE=${SIZE:-224} BATCH=${BATCH:-32} JOBS=${JOBS:-4}
BENCH_SIZE=${BENCH_SIZE---full}  # empty: loso_bench's tiny data set
BENCH_EXTRA=${BENCH_EXTRA:-}     # e.g. --compile: also an after+compile arm
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

say "== benchmarks/loso_bench.py: one fold end to end, before/after, and --jobs $JOBS ($SIZE px, batch $BATCH)"
rm -rf "$WORK/bench"
timeout "${BENCH_TIMEOUT:-420}" $PY benchmarks/loso_bench.py --device "$DEVICE" $BENCH_SIZE \
    --size "$SIZE" --batch "$BATCH" --jobs "$JOBS" --workers 8 --work "$WORK/bench" \
    $BENCH_EXTRA --json "$OUT/loso_bench.json" 2>&1 | grep -v "^\s*$" | tail -n 40 | tee "$OUT/loso_bench.txt" | tee -a "$REPORT"
status=${PIPESTATUS[0]}
say "loso_bench exit $status"
exit "$status"
