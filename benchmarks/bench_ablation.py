"""Does the shared memory help? The SRMT paper's ablation on the Bottleneck, with intervals over seeds.

A cell is a model variant, optionally with a memory mode, a self-attention mask
and a test-time memory intervention: `srmt`, `gru`, `srmt,memory=stored`,
`srmt,mask=full`, `srmt,intervention=zero-pool`.
For every (reward scheme, seed, cell), in that order (every cell gets a seed
before any cell gets the next), one run:

1. `srmt train --preset bottleneck --reward R --variant V [--memory M] --seed S
   --train_for_env_steps BUDGET` into WORK/runs/KEY/train (one budget for all);
2. its exported policy greedily on eval's full `bottleneck` suite (corridor
   lengths L = 3..50 and 100..1000, 10 seeds each, episodes of 2L+100 steps),
   with the cell's memory intervention;
3. WORK/results/KEY.json, written when the run ends: CSR / ISR / SoC per
   corridor length and the training's CSR curve.

`--task relay` runs the same grid on the relay task (envs/relay.py, docs/maps.md "Relay"), where only
shared memory can tell an agent its goal: trained with `--task relay` (episodes of 7 steps), evaluated on its
own test set (RELAY_TEST_LENGTHS x seeds 0..39, every side pair 10 times, 7-step episodes; corridor length
changes nothing an agent sees there). Its runs are named `relay-REWARD-CELL-seedS`; a work directory's
finished runs and training experiments must be of the task asked for.

Env steps to CSR 0.9 come from the training's own episode statistics: the first
`metrics/CSR` point of the experiment's TensorBoard summary (sample-factory's
mean over the last 100 training episodes, sampled actions, on the training
corridors) at or above 0.9.

A run whose result file exists is never trained or evaluated again; an
interrupted training resumes from its newest checkpoint (the budget is env
steps, so it still ends at the budget). Runs go one at a time, over `--parallel
K` local processes, or over a dask cluster (`--engine dask --scheduler ADDR`:
workers need srmt installed and WORK at the same path). `--out FILE.json` writes
the summary (per cell: means and 95% t intervals over seeds), the same as a
table in FILE.md, and FILE.png (CSR against corridor length, one curve per
cell, one panel per reward scheme).

    srmt bench ablation --work /work/ablation --budget 1.5e6 --out docs/results/ablation/summary.json
    srmt bench ablation --work /work/ablation --budget 1.5e6 --summary-only --out summary.json
    srmt bench ablation --task relay --cells srmt rmt empty --rewards directional --work /work/relay \
        --budget 2e6 --out docs/results/memory-task/ablation.json
"""
from __future__ import annotations

import argparse
import concurrent.futures as futures
import dataclasses
import json
import math
import multiprocessing
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Sequence, get_args

from benchmarks.options import (ROUNDS, WORKERS, Result, add_overrides, add_ranged, add_result_options, overrides,
                                train_command)
from common.options import Range
from common.outputs import DIRECTORY, check_output
from eval.cluster import ENGINES
from eval.stats import mean_ci
from maps.bottleneck import TEST_LENGTHS, map_name, parse_bottleneck_length
from srmt.config import ATTENTION_MASKS, MEMORY_MODES, VARIANTS, ModelConfig
from srmt.interventions import INTERVENTIONS
from envs.config import NON_LIFELONG_REWARDS as BOTTLENECK_REWARDS, EnvConfig, TaskName
from envs.relay import RELAY, RELAY_STEPS

BUDGET = Range(0, 1e10, lo_open=True, integer=True)
"""Env (agent) steps of every training run."""
TARGET_CSR = 0.9
SHORT = tuple(L for L in TEST_LENGTHS if L <= 50)
"""The test corridors up to the training lengths' range (L = 3..50); the rest (100..1000) are `long`."""
DEFAULT_CELLS = ("srmt", "rmt", "attention", "empty", "gru", "srmt,memory=stored", "srmt,mask=full")
DEFAULT_REWARDS = ("sparse", "directional")
TASKS: tuple[str, ...] = get_args(TaskName)
STANDARD = "standard"
RELAY_TEST_LENGTHS = (3, 10, 30, 100)
"""The relay task's test corridors (the standard suite's quick set): nothing an agent sees within the 7 steps
depends on the length, so a few stand for all."""
RELAY_TEST_SEEDS = tuple(range(40))
"""Seed s gives agent a the left end iff bit a of s is 0 (envs/relay.py): 40 seeds hold each pair 10 times."""
METRICS = ("CSR", "ISR", "SoC")


class AblationError(ValueError):
    """A cell, reward scheme or option that cannot run; the message names it and the fix."""


@dataclasses.dataclass(frozen=True)
class Cell:
    """A model variant, its memory mode and self-attention mask (None: the preset's) and a test-time memory
    intervention."""

    variant: str
    memory: str | None = None
    intervention: str = "none"
    mask: str | None = None

    @property
    def name(self) -> str:
        """The cell as typed: `srmt,memory=stored`."""
        extra = ([f"memory={self.memory}"] if self.memory else []) + ([f"mask={self.mask}"] if self.mask else []) + (
            [f"intervention={self.intervention}"] if self.intervention != "none" else [])
        return ",".join([self.variant, *extra])

    @property
    def slug(self) -> str:
        """The cell in file names: `srmt.memory-stored`."""
        return self.name.replace(",", ".").replace("=", "-")


def parse_cell(text: str) -> Cell:
    """`VARIANT[,memory=MODE][,mask=MASK][,intervention=NAME]` -> Cell; AblationError naming the cell if it
    cannot run."""
    variant, *parts = text.split(",")
    fields: dict[str, str] = {}
    for part in parts:
        key, eq, value = part.partition("=")
        if key not in ("memory", "mask", "intervention") or not eq or key in fields:
            raise AblationError(f"cell {text!r}: {part!r} is not memory=MODE, mask=MASK or intervention=NAME "
                                "(each once); write e.g. srmt,memory=stored or srmt,intervention=zero-pool")
        fields[key] = value
    if variant not in VARIANTS:
        raise AblationError(f"cell {text!r}: unknown variant {variant!r}; choose one of {list(VARIANTS)}")
    memory, mask, intervention = fields.get("memory"), fields.get("mask"), fields.get("intervention", "none")
    config = ModelConfig(variant=variant)
    if memory is not None:
        if memory not in MEMORY_MODES:
            raise AblationError(f"cell {text!r}: unknown memory mode {memory!r}; choose one of {list(MEMORY_MODES)}")
        if not (config.uses_memory or variant == "gru"):
            raise AblationError(f"cell {text!r}: variant {variant!r} carries no memory, so memory={memory} "
                                "changes nothing; drop it or use srmt, rmt or gru")
    if mask is not None:
        if mask not in ATTENTION_MASKS:
            raise AblationError(f"cell {text!r}: unknown mask {mask!r}; choose one of {list(ATTENTION_MASKS)}")
        if not config.uses_attention:
            raise AblationError(f"cell {text!r}: variant {variant!r} has no self-attention, so mask={mask} "
                                "changes nothing; use srmt, rmt or attention")
    if intervention not in INTERVENTIONS:
        raise AblationError(f"cell {text!r}: unknown memory intervention {intervention!r}; "
                            f"choose one of {list(INTERVENTIONS)}")
    if intervention != "none" and not config.uses_pool:
        raise AblationError(f"cell {text!r}: variant {variant!r} reads no shared pool, so "
                            f"intervention={intervention} has nothing to replace; only srmt has one")
    return Cell(variant, memory, intervention, mask)


@dataclasses.dataclass(frozen=True)
class Run:
    """One training and evaluation of the ablation."""

    reward: str
    cell: Cell
    seed: int
    task: str = STANDARD

    @property
    def key(self) -> str:
        """`sparse-srmt.memory-stored-seed0` (`relay-sparse-srmt-seed0` on the relay task): the run's directory
        and result file name."""
        prefix = "" if self.task == STANDARD else f"{self.task}-"
        return f"{prefix}{self.reward}-{self.cell.slug}-seed{self.seed}"


def plan(cells: Sequence[str], rewards: Sequence[str], seeds: int, task: str = STANDARD) -> list[Run]:
    """Every run, checked before any work, in training order: reward schemes, then seeds, then cells."""
    if task not in TASKS:
        raise AblationError(f"--task {task!r} is not one of {list(TASKS)}")
    parsed = [parse_cell(text) for text in cells]
    for reward in rewards:
        if reward not in BOTTLENECK_REWARDS:
            raise AblationError(f"reward scheme {reward!r} (every cell of it) does not exist; choose from "
                                f"{list(BOTTLENECK_REWARDS)}")
    names = [c.name for c in parsed]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated or len(set(rewards)) != len(rewards):
        raise AblationError(f"cells {repeated} or reward schemes {list(rewards)} given twice; give each once")
    if seeds < 1:
        raise AblationError(f"--seeds {seeds}: every cell needs at least 1 seed")
    return [Run(reward, cell, seed, task) for reward in rewards for seed in range(seeds) for cell in parsed]


@dataclasses.dataclass(frozen=True)
class Job:
    """Everything a worker process needs for one run (picklable)."""

    run: Run
    budget: int
    work: str
    train_options: tuple[str, ...] = ()
    eval_workers: int = 1
    backend: str = "torch"

    @property
    def run_dir(self) -> Path:
        return Path(self.work) / "runs" / self.run.key

    def train_command(self) -> list[str]:
        """The run's `srmt train` command line (a child process of this Python)."""
        r = self.run
        memory = ["--memory", r.cell.memory] if r.cell.memory else []
        mask = ["--attention_mask", r.cell.mask] if r.cell.mask else []
        task = ["--task", r.task] if r.task != STANDARD else []
        return train_command("--preset", "bottleneck", *task, "--reward", r.reward, "--variant", r.cell.variant,
                             *memory, *mask, "--seed", str(r.seed), "--experiment", str(self.run_dir / "train"),
                             "--train_for_env_steps", str(self.budget), *self.train_options)


def train(job: Job) -> Path:
    """Run (or resume) the training; its experiment directory. RuntimeError naming the log if it fails."""
    job.run_dir.mkdir(parents=True, exist_ok=True)
    log = job.run_dir / "train-terminal.log"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with open(log, "a") as out:
        code = subprocess.run(job.train_command(), stdout=out, stderr=subprocess.STDOUT, env=env).returncode
    if code != 0:
        raise RuntimeError(f"training {job.run.key} exited with code {code}; see {log} and "
                           f"{job.run_dir / 'train' / 'train.log'}")
    return job.run_dir / "train"


def csr_curve(experiment: Path) -> list[tuple[int, float]]:
    """(env steps, logged training CSR) points of an experiment's TensorBoard summary, in step order."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    points: dict[int, float] = {}
    for events in sorted((experiment / ".summary").rglob("events.out.tfevents.*")):
        acc = EventAccumulator(str(events), size_guidance={"scalars": 0})
        acc.Reload()
        if "metrics/CSR" in acc.Tags()["scalars"]:
            points.update({int(e.step): float(e.value) for e in acc.Scalars("metrics/CSR")})
    return sorted(points.items())


def steps_to(curve: Sequence[Sequence[float]], target: float = TARGET_CSR) -> int | None:
    """The first env steps of `curve` ((steps, CSR) points) whose CSR is >= target; None if never."""
    return next((int(steps) for steps, csr in curve if csr >= target), None)


def evaluate_policy(job: Job, policy: Path) -> dict[int, dict[str, float]]:
    """Corridor length -> mean CSR / ISR / SoC of `policy` (greedy) on the full bottleneck suite, or on the
    relay test set for the relay task."""
    from eval.evaluate import evaluate
    from eval.runner import AgentSpec

    spec = AgentSpec(checkpoint=str(policy), sample=False, memory_intervention=job.run.cell.intervention)
    if job.run.task == RELAY:
        return per_length(relay_records(spec, job.backend))
    result = evaluate("bottleneck", spec=spec, out_dir=job.run_dir / "eval", workers=job.eval_workers,
                      backend=job.backend, progress=False)
    return per_length(result.records)


def relay_records(agent, backend: str, lengths: Sequence[int] = RELAY_TEST_LENGTHS,
                  seeds: Sequence[int] = RELAY_TEST_SEEDS) -> list[dict]:
    """The episode records of `agent` (an Agent or AgentSpec) on the relay task: every length x seed, 7 steps,
    the evaluation suite's dynamics and reward, in this process."""
    from eval.runner import MAX_ENVS, AgentSpec, Chunk, env_config, run_chunks
    from eval.suites import Episode, get_suite

    built = agent.build() if isinstance(agent, AgentSpec) else agent
    episodes = tuple(Episode(map_name(L), 2, seed, RELAY_STEPS) for L in lengths for seed in seeds)
    guidance = getattr(built, "guidance", EnvConfig.guidance)                   # the policy's, as `evaluate` does
    config = env_config(get_suite("bottleneck"), episodes, built.obs_radius or 2, None, guidance).replace(task=RELAY)
    records: list[dict] = []
    run_chunks(built, [Chunk(config, episodes, min(MAX_ENVS, len(episodes)), backend)], records.append)
    return records


def per_length(records: Iterable[dict]) -> dict[int, dict[str, float]]:
    """Corridor length -> the mean of each of METRICS over the episode records of that length."""
    grouped: dict[int, list[dict]] = {}
    for record in records:
        grouped.setdefault(parse_bottleneck_length(record["env_grid_search"]["map_name"]), []).append(record)
    return {L: {m: sum(r["metrics"][m] for r in recs) / len(recs) for m in METRICS} | {"episodes": len(recs)}
            for L, recs in sorted(grouped.items())}


def run_one(job: Job) -> dict:
    """Train (or resume) and evaluate one run; its result record (the caller writes it). `seconds.train` is
    this call's training time (for a resumed run, only its last part)."""
    import time

    from srmt.checkpoint import load_policy

    started = time.time()
    experiment = train(job)
    trained = time.time()
    policy = experiment / "policy.pt"
    lengths = evaluate_policy(job, policy)
    curve = csr_curve(experiment)
    meta = load_policy(policy).meta
    cell = job.run.cell
    return dict(key=job.run.key, task=job.run.task, reward=job.run.reward, cell=cell.name, variant=cell.variant,
                memory=cell.memory, mask=cell.mask, intervention=cell.intervention, seed=job.run.seed,
                budget=job.budget, env_steps=meta.get("env_steps"),
                command=job.train_command()[2:], steps_to_csr90=steps_to(curve),
                training_csr_curve=[[s, round(c, 4)] for s, c in curve],
                per_length={str(L): {k: round(v, 4) for k, v in m.items()} for L, m in lengths.items()},
                seconds=dict(train=round(trained - started, 1), evaluate=round(time.time() - trained, 1)))


def result_path(work: Path, run: Run) -> Path:
    return work / "results" / f"{run.key}.json"


def write_result(work: Path, record: dict) -> Path:
    """Write a run's record atomically (a half-written file never counts as a finished run)."""
    path = work / "results" / f"{record['key']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    tmp.replace(path)
    return path


def execute(jobs: Sequence[Job], done: Callable[[dict], None], parallel: int, scheduler: str | None) -> None:
    """Run `jobs` inline (parallel 1), over `parallel` local processes, or on the dask cluster at `scheduler`;
    call `done(record)` here as each run ends."""
    if scheduler is not None:
        from distributed import as_completed

        from eval.cluster import DaskEngine

        engine = DaskEngine(scheduler)
        try:
            pending = [engine.client.submit(run_one, job, pure=False, key=f"srmt-ablation-{job.run.key}")
                       for job in jobs]
            for future in as_completed(pending, loop=engine.client.loop):
                done(future.result())
        finally:
            engine.close()
    elif parallel == 1:
        for job in jobs:
            done(run_one(job))
    else:
        with futures.ProcessPoolExecutor(parallel, mp_context=multiprocessing.get_context("spawn")) as pool:
            for future in futures.as_completed([pool.submit(run_one, job) for job in jobs]):
                done(future.result())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cells", nargs="+", default=list(DEFAULT_CELLS),
                        help="VARIANT[,memory=MODE][,mask=MASK][,intervention=NAME] (default: %(default)s)")
    parser.add_argument("--task", default=STANDARD,
                        help=f"the Bottleneck's task, one of {list(TASKS)} (default: %(default)s; relay: "
                             "envs/relay.py, evaluated on its own test set)")
    parser.add_argument("--rewards", nargs="+", default=list(DEFAULT_REWARDS),
                        help=f"reward schemes, of {list(BOTTLENECK_REWARDS)} (default: %(default)s)")
    add_ranged(parser, "--seeds", ROUNDS, 5, "training seeds per cell (0..N-1)")
    add_ranged(parser, "--budget", BUDGET, 1_500_000, "env (agent) steps of every training run")
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "srmt-ablation"),
                        help="runs and per-run results (default: %(default)s); rerunning resumes")
    add_ranged(parser, "--parallel", WORKERS, 1, "runs at a time on this machine (each training uses 2 processes)")
    parser.add_argument("--engine", choices=ENGINES, default="local")
    parser.add_argument("--scheduler", help="dask scheduler address (--engine dask)")
    add_ranged(parser, "--eval-workers", WORKERS, 1, "evaluation processes of each run")
    parser.add_argument("--summary-only", action="store_true",
                        help="train nothing: summarise the finished runs of WORK into --out")
    add_overrides(parser, "learning_rate=3e-4")
    add_result_options(parser)


def run(args: argparse.Namespace) -> int:
    runs = plan(args.cells, args.rewards, args.seeds, args.task)
    if (args.engine == "dask") != (args.scheduler is not None):
        raise AblationError("--engine dask and --scheduler ADDRESS go together")
    if args.engine == "dask" and args.parallel != 1:
        raise AblationError("--parallel is for the local engine; the dask cluster's workers set the parallelism")
    extra = tuple(overrides(args.set))
    result = Result.begin(args)
    work = check_output(args.work, "--work", DIRECTORY).resolve()
    jobs = [Job(r, args.budget, str(work), extra, args.eval_workers) for r in runs]
    records = {r.key: json.loads(result_path(work, r).read_text()) for r in runs if result_path(work, r).is_file()}
    stale = [k for k, rec in records.items() if rec["budget"] != args.budget]
    if stale:
        raise AblationError(f"--budget {args.budget:g}: the finished runs {stale[:3]}... of {work} used another "
                            "budget; give theirs or another --work")
    check_tasks(args.task, records, jobs, work)
    todo = [j for j in jobs if j.run.key not in records]
    print(f"{len(runs)} runs planned, {len(records)} finished in {work}, "
          f"{0 if args.summary_only else len(todo)} to run; budget {args.budget:,} env steps each", flush=True)

    def done(record: dict) -> None:
        records[record["key"]] = record
        path = write_result(work, record)
        print(f"{record['key']}: {run_line(record)} -> {path}", flush=True)

    try:
        if not args.summary_only and todo:
            execute(todo, done, args.parallel, args.scheduler)
    finally:  # also on Ctrl-C / SIGTERM: the summary of the runs finished so far
        finished = [records[r.key] for r in runs if r.key in records]
        cells = summarise(finished)
        for line in summary_lines(cells):
            print(line)
        if result.out is not None:
            relay = args.task == RELAY
            title = (f"Ablation on the Bottleneck{' relay task' if relay else ''}: {len(finished)} of {len(runs)} "
                     f"runs ({len(args.cells)} cells x {len(args.rewards)} reward schemes x {args.seeds} seeds), "
                     f"{args.budget:,} env steps of `srmt train --preset bottleneck"
                     f"{' --task relay' if relay else ''}` each (the paper: 2e7), greedy on "
                     + (f"the relay test set (L = {', '.join(map(str, RELAY_TEST_LENGTHS))} x seeds 0.."
                        f"{len(RELAY_TEST_SEEDS) - 1}, {RELAY_STEPS}-step episodes)" if relay else
                        "the full test set (L = 3..50, 100..1000 x 10 seeds)")
                     + (f"; training options {' '.join(extra)}" if extra else ""))
            result.save(title, "; ".join(summary_lines(cells)),
                        dict(task=args.task, budget=args.budget, cells=args.cells, rewards=args.rewards,
                             seeds=args.seeds, train_options=list(extra),
                             planned=len(runs), finished=len(finished), steps_to_csr90_source=
                             "first logged training CSR (metrics/CSR: last 100 training episodes, sampled) >= 0.9",
                             summary=cells, runs=[r["key"] for r in finished]),
                        "SRMT at least every ablation (the paper: above them under sparse rewards)")
            if finished:
                plot(cells, args.rewards, result.out.with_suffix(".png"))
                result.out.with_suffix(".md").write_text(table(cells, title))
    return 0


def check_tasks(task: str, records: dict[str, dict], jobs: Sequence[Job], work: Path) -> None:
    """AblationError if a finished run (its record; none: standard) or a training experiment to resume (its
    saved config) of the work directory is of another task than `task`: one work directory, one task."""
    from train.saved_config import saved_config

    other = [k for k, rec in records.items() if rec.get("task", STANDARD) != task]
    for job in jobs:
        saved = None if job.run.key in records else saved_config(job.run_dir / "train")
        if saved is not None and saved["env"].get("task", STANDARD) != task:
            other.append(f"{job.run.key} (training)")
    if other:
        raise AblationError(f"--task {task}: the runs {other[:3]} of {work} are of another task; give theirs or "
                            "another --work")


def run_line(record: dict) -> str:
    """One run's headline: CSR over the test set, steps to the target."""
    lengths = record["per_length"].values()
    csr = sum(m["CSR"] for m in lengths) / len(lengths)
    reached = record["steps_to_csr90"]
    return (f"test CSR {csr:.3f}, training CSR {TARGET_CSR} "
            f"{'at ' + format(reached, ',') + ' env steps' if reached is not None else 'not reached'}")


def estimate(values: Sequence[float]) -> dict[str, float | None]:
    """Mean and 95% t interval over seeds, rounded; None where undefined (fewer than 2 values)."""
    e = mean_ci(values)
    return {k: None if math.isnan(v) else round(v, 4) for k, v in e._asdict().items()}


def summarise(records: Sequence[dict]) -> list[dict]:
    """Per (reward, cell), in first-seen order: the number of seeds, the mean and 95% t interval over seeds of
    each run's CSR / ISR / SoC (means over the run's corridor lengths; CSR also over L <= 50 and L >= 100) and of
    the env steps to training CSR 0.9 (runs that reached it; `reached` of `runs`), and the mean CSR per length."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for record in records:
        groups.setdefault((record["reward"], record["cell"]), []).append(record)
    cells = []
    for (reward, cell), recs in groups.items():
        def over(metric: str, keep: Callable[[int], bool] = lambda L: True) -> list[float]:
            values = []
            for rec in recs:
                chosen = [m[metric] for L, m in rec["per_length"].items() if keep(int(L))]
                if chosen:                                      # a test set may have no long corridors
                    values.append(sum(chosen) / len(chosen))
            return values

        reached = [rec["steps_to_csr90"] for rec in recs if rec["steps_to_csr90"] is not None]
        lengths = sorted({int(L) for rec in recs for L in rec["per_length"]})
        cells.append(dict(reward=reward, cell=cell, runs=len(recs), seeds=sorted(rec["seed"] for rec in recs),
                          **{m: estimate(over(m)) for m in METRICS},
                          CSR_short=estimate(over("CSR", lambda L: L in SHORT)),
                          CSR_long=estimate(over("CSR", lambda L: L not in SHORT)),
                          steps_to_csr90=dict(reached=len(reached), **estimate(reached)),
                          per_length_csr={str(L): round(sum(rec["per_length"][str(L)]["CSR"] for rec in recs
                                                            if str(L) in rec["per_length"]) /
                                                        sum(str(L) in rec["per_length"] for rec in recs), 4)
                                          for L in lengths}))
    return cells


def _fmt(e: dict, digits: int = 3) -> str:
    if e["mean"] is None:
        return "-"
    if e["lo"] is None:
        return f"{e['mean']:.{digits}f}"
    return f"{e['mean']:.{digits}f} [{e['lo']:.{digits}f}, {e['hi']:.{digits}f}]"


def summary_lines(cells: Sequence[dict]) -> list[str]:
    """One line per cell: CSR, ISR, SoC with 95% intervals over seeds, env steps to training CSR 0.9."""
    lines = []
    for c in cells:
        s = c["steps_to_csr90"]
        reached = (f"{s['reached']}/{c['runs']} reached, mean {s['mean'] / 1e6:.2f}M" if s["reached"]
                   else f"0/{c['runs']} reached")
        lines.append(f"{c['reward']} {c['cell']} ({c['runs']} seeds): CSR {_fmt(c['CSR'])}, ISR {_fmt(c['ISR'])}, "
                     f"SoC {_fmt(c['SoC'], 1)}; training CSR {TARGET_CSR}: {reached}")
    return lines


def table(cells: Sequence[dict], title: str) -> str:
    """The summary as a markdown table (one row per cell; intervals: 95% t over seeds)."""
    lines = [f"# {title}", "", "| reward | cell | seeds | CSR | CSR L <= 50 | CSR L >= 100 | ISR | SoC | "
             f"env steps to training CSR {TARGET_CSR} |", "|---|---|---|---|---|---|---|---|---|"]
    for c in cells:
        s = c["steps_to_csr90"]
        steps = f"{s['reached']}/{c['runs']}" + (f": {_fmt(s, 0)}" if s["reached"] else "")
        lines.append(f"| {c['reward']} | {c['cell']} | {c['runs']} | {_fmt(c['CSR'])} | {_fmt(c['CSR_short'])} | "
                     f"{_fmt(c['CSR_long'])} | {_fmt(c['ISR'])} | {_fmt(c['SoC'], 1)} | {steps} |")
    return "\n".join(lines) + "\n"


def plot(cells: Sequence[dict], rewards: Sequence[str], path: Path) -> None:
    """CSR against corridor length (log axis), one curve per cell (mean over seeds), one panel per reward."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [r for r in rewards if any(c["reward"] == r for c in cells)]
    fig, axes = plt.subplots(1, len(shown), figsize=(5.5 * len(shown), 4), squeeze=False, sharey=True)
    for ax, reward in zip(axes[0], shown):
        for c in (c for c in cells if c["reward"] == reward):
            lengths = sorted(int(L) for L in c["per_length_csr"])
            ax.plot(lengths, [c["per_length_csr"][str(L)] for L in lengths], marker=".", markersize=3,
                    label=f"{c['cell']} ({c['runs']} seeds)")
        ax.set_xscale("log")
        ax.set_title(f"{reward} reward")
        ax.set_xlabel("corridor length L")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("CSR (mean over seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"figure written to {path}")
