"""Evaluation speed benchmark: batched SRMT agent vs a per-agent loop on the Bottleneck suite.

    OMP_NUM_THREADS=1 python benchmarks/bench_eval_speed.py [--quick] [--checkpoint FILE]

Same as `srmt bench eval`; the code is in eval/bench.py.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eval.bench import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
