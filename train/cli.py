"""`srmt train` and `srmt imitate` (`srmt bench train` is benchmarks/bench_train_speed.py).

`srmt train` takes no argparse options of its own: every `--KEY VALUE` goes
to train/overrides.py, which resolves it against the run / env / model /
sample-factory fields and rejects unknown keys (argparse would need every
sample-factory flag declared twice); `--verbose` is the one flag train/run.py
takes itself. `srmt imitate` is an ordinary argparse command: PIBT imitation
on a lifelong preset's environments (train/imitation.py), the warm start of
`srmt train --init_policy`.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import textwrap
import time
from pathlib import Path
from typing import get_args

from common.options import NON_NEGATIVE_INT, POSITIVE_INT, Range
from planners.registry import ROLLOUT_SHIELDS
from common.outputs import DIRECTORY, check_output
from train.presets import TRAINING_PRESETS
from envs.config import LIFELONG_REWARDS, NON_LIFELONG_REWARDS, PathGuidance, is_lifelong

HELP = """\
Train an SRMT policy with sample-factory (APPO) on POGEMA maps.

usage: srmt train [--preset {preset_names}] [--KEY VALUE | --KEY=VALUE ...]

common options:
  --preset NAME             {presets}
  --reward SCHEME           bottleneck: {rewards}; lifelong: {lifelong_rewards}
  --variant NAME            {variants}
  --device {devices:<16} where the learner and inference run
  --backend NAME            batched env backend: {backends}
  --experiment DIR          experiment directory (default experiments/<preset>); an existing one is resumed
  --train_for_env_steps N   stop after N env (agent) steps
  --max_train_seconds S     wall-clock budget in seconds (0: none)
  --envs_per_batch E        environments per batched env object (E x num_agents rows)
  --seed N                  seeds the environments and torch

any field can be set as --SECTION.FIELD VALUE, or --FIELD VALUE when only one section has it:
  run    {run}
  env    envs.config.EnvConfig fields, e.g. --env.num_agents 4, --max_episode_steps 256
  model  srmt.config.ModelConfig fields, e.g. --hidden 32, --attention_mask full
  sf     sample-factory 2.1.1 options, e.g. --sf.batch_size 2048, --learning_rate 1e-4, --serial_mode true

Ctrl-C saves a checkpoint and stops; running the same command again resumes.
The terminal shows one progress line; sample-factory's log goes to EXPERIMENT/train.log
(--verbose shows it live instead). Errors always reach the terminal.
Full reference: docs/training.md
"""


def _help_text() -> str:
    from envs.backends import BACKENDS
    from srmt.config import VARIANTS
    from train.config import DEVICES, RunConfig

    run_fields = ", ".join(f.name for f in dataclasses.fields(RunConfig))
    return HELP.format(preset_names="|".join(TRAINING_PRESETS), presets=_preset_lines(),
                       rewards=" | ".join(NON_LIFELONG_REWARDS), lifelong_rewards=" | ".join(LIFELONG_REWARDS),
                       variants=" | ".join(VARIANTS), devices="|".join(DEVICES), run=run_fields,
                       backends=" | ".join(BACKENDS))


def _preset_lines(column: int = 28, width: int = 104) -> str:
    """The presets and their summaries (train/presets.py), one per line, wrapped under the help's column."""
    lines = []
    for i, (name, preset) in enumerate(TRAINING_PRESETS.items()):
        wrapped = textwrap.wrap(f"{name} ({preset['summary']})", width - column - 2)
        lines += [("| " if i else "") + wrapped[0], *("  " + line for line in wrapped[1:])]
    return ("\n" + " " * column).join(lines)


class _PassThroughParser(argparse.ArgumentParser):
    """Hands every argument after `train` to train/overrides.py unparsed (`-h` prints the help)."""

    def parse_known_args(self, args=None, namespace=None):
        args = list(args or [])
        if any(a in ("-h", "--help") for a in args):
            print(_help_text())
            self.exit(0)
        namespace = namespace or argparse.Namespace()
        namespace.train_argv = args
        namespace.func = _run
        return namespace, []


def _run(args: argparse.Namespace) -> int:
    from train.run import train

    return train(args.train_argv)


def _imitate(args: argparse.Namespace) -> int:
    from envs.config import EnvConfig
    from srmt.config import ModelConfig
    from train.overrides import model_field
    from train.presets import preset_sections
    from train.imitation import ImitationConfig, check_intent_loss, imitate
    from train.mazes import with_training_maps

    sections = preset_sections(args.preset)
    model = ModelConfig.from_dict({**sections["model"], **dict(model_field(item) for item in args.model)})
    env = EnvConfig.from_dict(sections["env"])
    if args.guidance is not None:
        env = env.replace(guidance=args.guidance)
    if not is_lifelong(env.on_target):
        raise ValueError(f"--preset {args.preset} is not lifelong (on_target={env.on_target}); PIBT imitation "
                         "is for the lifelong presets: lifelong-cpu, lifelong")
    settings = ImitationConfig(samples=args.samples, seconds=args.seconds, envs=args.envs, rollout=args.rollout,
                               epochs=args.epochs, minibatch_envs=args.minibatch_envs,
                               learning_rate=args.learning_rate, final_expert_share=args.final_expert_share,
                               shield=args.shield == "pibt", seed=args.seed, gamma=sections["sf"]["gamma"],
                               expert=args.expert, intent_loss=args.intent_loss, intent_moves=args.intent_moves)
    check_intent_loss(model, settings)
    out = imitation_outputs(args.out)
    env = with_training_maps(env, out.parent / "maps")
    cap = f" (at most {args.seconds:.0f} s)" if args.seconds else ""
    print(f"imitating {args.expert} for {args.samples:,} samples{cap} on preset {args.preset}'s environments -> {out}",
          flush=True)
    started = time.time()
    try:
        imitate(env, model, settings, out,
                report=lambda stats: print("  " + ", ".join(f"{k} {v}" for k, v in stats.items()), flush=True),
                command=" ".join(["srmt", *sys.argv[1:]]))
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (cli/main.py): imitate saved the policy if it had begun
        saved = out.is_file() and out.stat().st_mtime >= started
        print(f"saved the policy so far: {out}" if saved else "stopped before the first update: nothing saved",
              file=sys.stderr)
        raise
    print(f"wrote {out}; continue with APPO: srmt train --preset {args.preset} --init_policy {out}")
    return 0


def imitation_outputs(out: str) -> Path:
    """The policy file `srmt imitate --out` names, after checking it and the folders written beside it
    (training maps, snapshots); common.outputs.OutputPathError names what cannot be written and the fix."""
    from train.export import POLICY_OUTPUT
    from train.imitation import SNAPSHOTS

    path = check_output(out, "--out", POLICY_OUTPUT)
    for folder in (path.parent / "maps", path.parent / SNAPSHOTS):
        check_output(folder, f"--out {out} (srmt imitate also writes {folder.name}/ beside it)", DIRECTORY)
    return path


def add_subparser(subparsers) -> None:
    """Register `srmt train` and `srmt imitate` (see cli/main.py)."""
    parser = subparsers.add_parser("train", help="train a policy (presets: " + ", ".join(TRAINING_PRESETS) + ")",
                                   add_help=False)
    parser.__class__ = _PassThroughParser
    from planners.registry import EXPERTS
    from train.imitation import INTENT_LOSS, INTENT_MOVES, SAMPLES, SECONDS, ImitationConfig

    d = ImitationConfig()
    p = subparsers.add_parser("imitate", help="behaviour cloning of the PIBT planner (APPO warm start)",
                              description="Train a policy to imitate PIBT on a lifelong preset's environments "
                                          "(train/imitation.py); start APPO from it with --init_policy.")
    p.add_argument("--preset", default="lifelong-cpu", choices=[n for n in TRAINING_PRESETS if n != "bottleneck"])
    p.add_argument("--out", required=True, metavar="FILE", help="policy file to write")
    p.add_argument("--samples", type=SAMPLES.argtype("--samples"), default=d.samples,
                   help=f"budget in agent-steps of expert labels (default {d.samples:,}; {SAMPLES.describe()})")
    p.add_argument("--seconds", type=SECONDS.argtype("--seconds"), default=None,
                   help="optional wall-clock cap (a capped run is no longer a function of its seed)")
    p.add_argument("--envs", type=POSITIVE_INT.argtype("--envs"), default=d.envs, help=f"environments stepped together (default {d.envs})")
    p.add_argument("--rollout", type=POSITIVE_INT.argtype("--rollout"), default=d.rollout, help=f"steps per rollout (default {d.rollout})")
    p.add_argument("--epochs", type=POSITIVE_INT.argtype("--epochs"), default=d.epochs, help=f"passes over a rollout (default {d.epochs})")
    p.add_argument("--minibatch-envs", type=POSITIVE_INT.argtype("--minibatch-envs"), default=d.minibatch_envs,
                   help=f"environments per gradient step, over the whole rollout (default {d.minibatch_envs})")
    p.add_argument("--model", action="append", default=[], metavar="FIELD=VALUE",
                   help="model field over the preset's (srmt.config.ModelConfig), e.g. --model hidden=64 (repeatable)")
    p.add_argument("--guidance", choices=get_args(PathGuidance), default=None,
                   help="what observation channel 0 carries besides obstacles (envs/observation.py); the policy "
                        "file records it and `srmt eval` observes with it (default: the preset's)")
    p.add_argument("--expert", choices=list(EXPERTS), default=d.expert,
                   help=f"the planner whose actions are learned (planners/registry.py; default {d.expert})")
    p.add_argument("--shield", choices=["none", *ROLLOUT_SHIELDS], default="none",
                   help="pibt: the policy's own actions in the rollouts go through the PIBT collision shield")
    p.add_argument("--learning-rate", type=Range(0, 1, lo_open=True).argtype("--learning-rate"), default=d.learning_rate, help=f"Adam (default {d.learning_rate})")
    p.add_argument("--final-expert-share", type=Range(0, 1).argtype("--final-expert-share"), default=d.final_expert_share,
                   help="share of envs executing the expert's actions at the end; falls linearly from 1 "
                        f"(default {d.final_expert_share})")
    p.add_argument("--seed", type=NON_NEGATIVE_INT.argtype("--seed"), default=d.seed)
    p.add_argument("--intent-loss", type=INTENT_LOSS.argtype("--intent-loss"), default=d.intent_loss, metavar="W",
                   help="weight of an auxiliary loss: predict each agent's next --intent-moves expert actions from "
                        "the memory it writes to the pool (variants srmt, rmt; docs/model.md; default 0: off)")
    p.add_argument("--intent-moves", type=INTENT_MOVES.argtype("--intent-moves"), default=d.intent_moves,
                   metavar="K", help=f"moves the intent head predicts, at most --rollout (default {d.intent_moves})")
    p.set_defaults(func=_imitate)
