"""`srmt demo`: the whole pipeline on a built-in default, CPU-friendly.

A short Bottleneck training (directional reward), evaluation of the trained
policy on a quick subset of the Bottleneck test set, and a rendered episode.
Each stage is the same command a user would type; running the demo again
resumes the training where it stopped.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from common.options import POSITIVE
from common.outputs import DIRECTORY, check_output


def stages(out: Path, minutes: float, device: str) -> list[list[str]]:
    """The `srmt` command lines the demo runs, in order."""
    policy = str(out / "train" / "policy.pt")
    return [
        ["train", "--preset", "bottleneck", "--experiment", str(out / "train"),
         "--max_train_seconds", str(int(minutes * 60)), "--device", device],
        ["eval", "bottleneck", "--checkpoint", policy, "--quick", "--out", str(out / "eval"), "--device", device],
        ["render", "--checkpoint", policy, "--map", "bottleneck-8", "--agents", "2", "--seed", "0",
         "--out", str(out / "video"), "--device", device],
    ]


def run(args: argparse.Namespace) -> int:
    from cli.main import main

    for argv in stages(check_output(args.out, "--out", DIRECTORY), args.minutes, args.device):
        print(f"\n$ srmt {' '.join(argv)}", flush=True)
        code = main(argv)
        if code:
            return code
    print(f"\ndemo done: policy, evaluation tables/plots and videos are under {args.out}/")
    return 0


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    """Register `srmt demo`."""
    parser = subparsers.add_parser("demo", help="short Bottleneck training, evaluation and a video (CPU-friendly)")
    parser.add_argument("--out", default="runs/demo", help="output directory (default: runs/demo)")
    parser.add_argument("--minutes", type=POSITIVE.argtype("--minutes"), default=5.0, help="training budget in minutes (default: 5)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="device (default: cpu)")
    parser.set_defaults(func=run)
