#!/usr/bin/env bash
# Every GPU check in one call of at most 8 minutes (docs/training.md, "GPU check"):
#   1. the CUDA tests (skipped elsewhere),
#   2. `srmt bench env --device cuda --envs 4096 --torch-only` (goal: > 10M agent-steps/s),
#   3. a 2-minute training of the paper-size `lifelong` preset with --device cuda --backend torch,
#      printing frames/s.
# On a machine without CUDA it prints one line per skipped part and exits 0.
#
#   bash benchmarks/gpu_check.sh                     # project installed in the current python
#   SRMT_WHEELS=.wheels bash benchmarks/gpu_check.sh # first install the carried wheels (no registry)
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ] && PY=.venv/bin/python
if [ -n "${SRMT_WHEELS:-}" ]; then  # a machine that reaches no registry: wheels carried in a folder
    target=${SRMT_TARGET:-/tmp/srmt-site}
    "$PY" -m pip install -q --no-index --find-links "$SRMT_WHEELS" --target "$target" \
        pogema sample-factory gymnasium pydantic pyyaml tqdm pytest || exit 1
    export PYTHONPATH="$PWD:$target${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "gpu_check: no CUDA GPU here: skipping the CUDA tests"
    echo "gpu_check: no CUDA GPU here: skipping srmt bench env --device cuda --envs 4096 --torch-only"
    echo "gpu_check: no CUDA GPU here: skipping the 2-minute lifelong training on cuda"
    exit 0
fi
"$PY" -c "import torch; print('gpu_check: device', torch.cuda.get_device_name(0), 'torch', torch.__version__)"
status=0
echo "== 1. CUDA tests"
timeout 150 "$PY" -m pytest -q -p no:cacheprovider -k "cuda or gpu" tests/ || status=1
echo "== 2. env speed on the GPU"
timeout 120 "$PY" -m cli.main bench env --device cuda --envs 4096 --torch-only || status=1
echo "== 3. 2-minute training, paper-size lifelong preset, --device cuda --backend torch"
exp=$(mktemp -d)/lifelong-gpu
timeout 200 "$PY" -m cli.main train --preset lifelong --device cuda --backend torch --max_train_seconds 120 \
    --experiment "$exp" > "$exp.log" 2>&1 || status=1
grep -a "Fps is" "$exp/sf_log.txt" | tail -3
grep -a "Collected" "$exp/train.log" | tail -1
exit $status
