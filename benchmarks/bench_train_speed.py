"""Training speed of the bottleneck preset: env frames/s and peak RSS over all processes.

Reference: the original implementation trains this preset at ~2,850 frames/s
with 3.9 GB RAM on a 2-core machine; the target is >= 3x its frames/s under
1.5 GB. Same as `srmt bench train`; see train/bench.py.

    python benchmarks/bench_train_speed.py [--seconds 90] [--set KEY=VALUE ...]
"""
import argparse
import sys

from train.bench import add_speed_arguments, run_speed

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_speed_arguments(parser)
    sys.exit(run_speed(parser.parse_args()))
