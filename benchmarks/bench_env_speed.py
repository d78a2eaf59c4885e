"""Env throughput: torch backend vs pogema backend (same as `srmt bench env`).

    OMP_NUM_THREADS=1 python benchmarks/bench_env_speed.py
    python benchmarks/bench_env_speed.py --device cuda --envs 4096 --torch-only
"""
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from envs.torch_backend.bench import main  # noqa: E402

if __name__ == "__main__":
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    sys.exit(main())
