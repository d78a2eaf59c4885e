"""`python -m train ARGS`: the same as `srmt train ARGS` (benchmarks and tests start training this way)."""
import sys

from envs.device import limit_threads


def main(argv: list[str]) -> int:
    limit_threads()
    from train.cli import _help_text
    from train.run import train

    if any(a in ("-h", "--help") for a in argv):
        print(_help_text())
        return 0
    try:
        return train(argv)
    except ValueError as err:  # bad input: the message says how to fix it
        print(f"srmt train: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
