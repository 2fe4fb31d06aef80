#!/usr/bin/env bash
# Every code path that only runs on a GPU, run on one, with its figures: bf16 autocast and
# channels-last image training, CUDA sampling and likelihoods, the CLI and the app's engine on
# cuda, and data-parallel training over NCCL. Run it from anywhere on a machine with an NVIDIA
# GPU; it takes about 4 minutes and at most 8 (every step has its own timeout), and exits
# non-zero when CUDA is not available or any step fails.
#
# Step 0, once per machine: a virtual environment that sees the machine's CUDA build of torch
# (pip keeps the torch it finds) with fmstudio and the test tools installed:
#
#     python3 -m venv --system-site-packages .venv && .venv/bin/pip install -e ".[test]"
#     # or: bash benchmarks/gpu_check.sh --setup      (PYTHON=... picks another interpreter)
#
# Then:
#
#     bash benchmarks/gpu_check.sh                                  # on the GPU
#     FMSTUDIO_GPU_CHECK_DEVICE=cpu bash benchmarks/gpu_check.sh    # the same steps on the CPU,
#                                                                   # shorter: checks the script
#
# It prints the GPU, runs the GPU tests (tests/test_gpu.py, which skip without CUDA, and the
# image-training, distributed and device-selection tests), the 2-D and U-Net throughput
# benchmarks and the app's engine on the device, and a 2-rank torchrun over NCCL when there are
# 2 GPUs. Last comes one block of figures to record, with the GPU's name, in RESULTS.md.
set -euo pipefail

cd "$(dirname "$0")/.."
if [[ "${1:-}" == "--setup" ]]; then
    python3 -m venv --system-site-packages .venv
    .venv/bin/pip install -e ".[test]"
    shift
fi
PYTHON="${PYTHON:-.venv/bin/python}"
DEVICE="${FMSTUDIO_GPU_CHECK_DEVICE:-cuda}"
export FMSTUDIO_GPU_CHECK_DEVICE="$DEVICE" QT_QPA_PLATFORM=offscreen
OUT="$(mktemp -d -t fmstudio-gpu-check.XXXXXX)"
TESTS=(tests/test_gpu.py tests/test_training.py::test_device_resolution)
if [[ "$DEVICE" == cuda* ]]; then  # figures worth recording
    TESTS+=(tests/test_image_training.py tests/test_distributed.py)
    THROUGHPUT=(--seconds 2 --rounds 2)
    UNET=(--seconds 4)
    ENGINE=(--seconds 5 --n 2000)
    DDP=(--dataset checkerboard --steps 2000 --batch-size 4096 --device cuda)
else  # the script's self-check: every step, as short as it can be (the CPU tests run anyway)
    THROUGHPUT=(--seconds 0.3 --rounds 1)
    UNET=(--seconds 0.3 --cases 1)
    ENGINE=(--seconds 1 --n 200)
    DDP=(--dataset moons --steps 20 --hidden 32 --depth 2 --batch-size 64 --device cpu)
fi

die() {
    echo "gpu_check: $*" >&2
    exit 1
}

[[ -x "$PYTHON" ]] || die "no $PYTHON: do step 0 (at the top of this script) or set PYTHON"
"$PYTHON" -c "import fmstudio, pytest" 2>/dev/null ||
    die "$PYTHON lacks fmstudio or pytest: $PYTHON -m pip install -e '.[test]'"

echo "== device"
if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv,noheader
else
    echo "(no nvidia-smi)"
fi
timeout 60 "$PYTHON" - "$DEVICE" >"$OUT/device.json" <<'PY'
import json, sys, torch

device = sys.argv[1]
count = torch.cuda.device_count() if torch.cuda.is_available() else 0
info = {"torch": torch.__version__, "cuda": torch.version.cuda, "device": device, "gpus": count,
        "names": [torch.cuda.get_device_name(i) for i in range(count)]}
if device.startswith("cuda"):
    if not count:
        sys.exit(f"gpu_check: CUDA is not available to {sys.executable} (torch {torch.__version__}"
                 f", CUDA build {torch.version.cuda}): install a CUDA build of torch, or run with "
                 "FMSTUDIO_GPU_CHECK_DEVICE=cpu to check the script itself")
    info["bf16"] = torch.cuda.is_bf16_supported()
    x = torch.ones(1024, 1024, device=device)
    assert float((x @ x).sum()) == 1024**3, "the GPU computes wrong results"
print(json.dumps(info))
PY
cat "$OUT/device.json"

FAILED=()
TIMES=()
step() {  # step NAME LIMIT_S COMMAND...: stdout also to $OUT/NAME.out; a failure is recorded
    local name=$1 limit=$2 start=$SECONDS status
    shift 2
    echo
    echo "== $name (at most ${limit} s): $*"
    set +e
    timeout --kill-after=10 "$limit" "$@" | tee "$OUT/$name.out"
    status=${PIPESTATUS[0]}
    set -e
    TIMES+=("$name $((SECONDS - start)) s")
    if ((status == 124 || status == 137)); then
        FAILED+=("$name (timed out after ${limit} s)")
    elif ((status != 0)); then
        FAILED+=("$name (exit $status)")
    fi
}

step tests 180 "$PYTHON" -m pytest -q -p no:cacheprovider "${TESTS[@]}"
step throughput 50 "$PYTHON" -m benchmarks.bench_throughput --device "$DEVICE" "${THROUGHPUT[@]}"
step unet 90 "$PYTHON" -m benchmarks.bench_image_throughput --device "$DEVICE" "${UNET[@]}"
step engine 60 "$PYTHON" -m benchmarks.bench_engine --device "$DEVICE" "${ENGINE[@]}"
GPUS=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["gpus"])' \
    "$OUT/device.json")
if [[ "$DEVICE" == cuda* && "$GPUS" -lt 2 ]]; then
    echo
    echo "== torchrun: skipped: NCCL needs 2 GPUs, this machine has $GPUS" \
        "(2 CPU ranks over gloo ran in tests/test_distributed.py)" | tee "$OUT/torchrun.out"
else
    step torchrun 60 "$PYTHON" -m torch.distributed.run --standalone --nproc_per_node=2 \
        -m fmstudio train "${DDP[@]}" --out "$OUT/ddp" -q
fi

echo
"$PYTHON" - "$OUT" "${TIMES[@]}" "--" "${FAILED[@]}" <<'PY'
import datetime, json, re, sys
from pathlib import Path

out, rest = Path(sys.argv[1]), sys.argv[2:]
times, failed = rest[: rest.index("--")], rest[rest.index("--") + 1 :]


def text(name):
    path = out / f"{name}.out"
    return path.read_text() if path.exists() else ""


def results(name):
    try:
        return json.loads(text(name))["results"]
    except (ValueError, KeyError):
        return None


device = json.loads((out / "device.json").read_text())
gpu = ", ".join(device["names"]) or "no GPU"
print(f"== fmstudio GPU check on {device['device']}: {gpu}; torch {device['torch']} "
      f"(CUDA {device['cuda']}); {datetime.date.today()}")
tests = re.findall(r"^=*\s*(\d+ (?:passed|failed).*?)\s*=*$", text("tests"), re.M)
print(f"tests            {tests[-1] if tests else 'no result'}")
for row in results("throughput") or []:
    print(f"2-D steps/s      {row['model']} batch {row['batch']}: fmstudio "
          f"{row['fmstudio_steps_per_s']}, plain loop {row['plain_steps_per_s']}")
for row in results("unet") or []:
    mixed = row.get("bf16_channels_last")
    extra = f", bf16 + channels-last {mixed} ({mixed / row['fp32']:.2f}x)" if mixed else ""
    print(f"U-Net images/s   {row['case']}, batch {row['batch']}: fp32 {row['fp32']}{extra}")
for row in results("engine") or []:
    measured = f", W2-vs-NFE {row['measure_s']} s" if "measure_s" in row else ""
    print(f"app engine       {row['run']}: {row['live_steps_per_s']} steps/s live, "
          f"{row['snapshots_per_s']} snapshots/s, sampling {row['sample_s']} s{measured}")
ddp = re.search(r"trained (\d+) steps in ([\d.]+) s", text("torchrun"))
skipped = text("torchrun").strip().removeprefix("== torchrun: ")
rate = f"{ddp[1]} steps in {ddp[2]} s ({int(ddp[1]) / float(ddp[2]):.0f} steps/s)" if ddp else ""
print(f"torchrun 2 ranks {rate or skipped or 'no result'}")
print(f"step times       {', '.join(times)}")
print(f"failed           {', '.join(failed) or 'none'}")
PY
((${#FAILED[@]} == 0)) || die "failed: ${FAILED[*]} (outputs in $OUT)"
