"""`evaluate`: select a suite's episodes, run what is not done yet, write results and reports.

Every input is checked before the first episode runs (suite, filters, maps,
checkpoint, device, output directory, agent counts vs free cells, compare
files); finished episodes are appended to ``OUT/episodes.jsonl`` as they come,
so an interrupted or failed run loses nothing and the same command resumes it
(with the same settings: `eval.results.IDENTITY_KEYS`; any selection of the
suite's episodes). Lifelong benchmark suites compare with the benchmark's
published results by default.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from agents import Agent, AgentError
from agents.spec import AgentSpec
from eval.cluster import ENGINES, DaskEngine, check_scheduler
from eval.tables import (ALL, REPORT_FILES, aggregate, episode_key, interval, match_counts, restrict,
                         write_reports)
from eval.results import (ResultStore, check_replaceable, compare_paths, label_compared, load_records,
                          replace_files, to_json, unique_paths)
from eval.runner import Chunk, make_chunks, run_chunks
from eval.suites import BENCHMARK_URL, Episode, EvalError, Suite, get_suite
from maps.errors import MapError
from maps.registry import BENCHMARK_DIR, ENV_VAR, MapRegistry, default_registry, load_collection
from envs.config import EnvConfig, is_lifelong


@dataclass
class EvalResult:
    out_dir: Path
    records: list[dict]
    """records of the selected episodes (earlier runs included)"""
    ran: int
    """episodes run by this call"""
    skipped: int
    """selected episodes already in the store"""
    seconds: float
    """wall time of this call"""
    files: dict[str, Path] = field(default_factory=dict)
    compared: dict[str, tuple[int, int]] = field(default_factory=dict)
    """per `compare` algorithm: (our episodes it matched by map, agents and seed; its episodes)"""
    others: list[dict] = field(default_factory=list)
    """the compared records of our episodes, labelled apart from ours"""
    compare_note: str = ""
    """why the default comparison with the published results was not made ('' when it was, or none exist)"""

    @property
    def speed(self) -> tuple[float, float] | None:
        """(episodes/s, agent-steps/s) of this call; None when it resumed episodes (they cost no time)."""
        if not self.ran or self.skipped:
            return None
        agent_steps = sum(r["env_grid_search"]["num_agents"] * r["metrics"]["ep_length"] for r in self.records)
        return self.ran / self.seconds, agent_steps / self.seconds


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def describe_agent(agent: Agent) -> str:
    """One line on how an SRMT agent acts: its decoding (and where that came from) and its shield; notes
    a policy file trained with a shield that runs without one. Empty for baselines."""
    meta = getattr(agent, "meta", None)
    if meta is None:
        return ""
    recommended = meta.get("decoding")
    source = (f"the policy file recommends {recommended}" if recommended else "the policy file recommends none")
    if agent.shield:
        source += "; a shield ranks by logit unless --sample"
    line = f"{agent.name}: {_decoding(agent)} actions ({source}), shield {agent.shield or 'none'}"
    trained = meta.get("shield")
    if trained and not agent.shield:
        line += f"; note: this policy was trained with the {trained} shield in the loop, pass --shield {trained}"
    return line


def _decoding(agent: Agent) -> str | None:
    """'sampled' or 'argmax' for a policy's actions; None for a baseline (it picks one action per agent)."""
    if getattr(agent, "meta", None) is None:
        return None
    return "sampled" if agent.sample else "argmax"


def check_maps(suite: Suite, episodes: Sequence[Episode], maps_dir: str | None) -> MapRegistry:
    """The registry of `maps_dir`; EvalError naming the collection file that lacks a map of `episodes`
    and how to fix it."""
    try:
        registry = default_registry(maps_dir)
    except MapError as err:
        raise EvalError(f"suite {suite.name!r}: {err}") from err
    missing = sorted({ep.map_name for ep in episodes} - set(registry.names()))
    if not missing:
        return registry
    more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
    source = registry.collection_file(suite.collection) if suite.collection else None
    if source is None:
        fix = "reinstall srmt (its shipped maps are missing)"
    elif BENCHMARK_DIR in source.parents:
        fix = (f"the shipped copy {source} is incomplete: reinstall srmt, or download {suite.collection}/maps.yaml "
               f"from {BENCHMARK_URL} (folder raw_data_LMAPF/{suite.collection}/) into a directory DIR and pass "
               f"--maps-dir DIR or set {ENV_VAR}=DIR")
    else:
        fix = (f"{source} replaces the shipped {suite.collection} maps; complete it from {BENCHMARK_URL} "
               f"(folder raw_data_LMAPF/{suite.collection}/), or rename it to use the shipped suite")
    raise EvalError(f"suite {suite.name!r} needs map {missing[0]!r}{more} from "
                    f"{suite.collection or 'srmt'}/maps.yaml: {fix}")


def suite_grids(suite: Suite, registry: MapRegistry) -> dict[str, str]:
    """The grids of the suite's maps that `registry` holds, by name."""
    known = set(registry.names())
    return {name: registry.grid(name) for name in suite.maps if name in known}


def maps_fingerprint(grids: Mapping[str, str]) -> str:
    """SHA-256 of maps by name: equal for equal maps, whichever file they come from."""
    return hashlib.sha256(json.dumps(sorted(grids.items())).encode()).hexdigest()


def published_maps_differ(suite: Suite, registry: MapRegistry, grids: Mapping[str, str]) -> str:
    """Why the benchmark's published results do not apply to these maps ('' when they do): a maps
    directory replaced the suite's shipped maps with other grids."""
    source = registry.collection_file(suite.collection) if suite.collection else None
    if source is None or BENCHMARK_DIR in source.parents:
        return ""
    shipped = load_collection(BENCHMARK_DIR / suite.collection / "maps.yaml")
    if {name: shipped[name] for name in grids if name in shipped} == dict(grids):
        return ""
    return (f"published results not compared: {source} replaces the benchmark's {suite.collection} maps "
            "with other grids (--compare NAME compares anyway)")


def check_agent_fits(suite: Suite, agent: Agent) -> None:
    """EvalError when a policy was trained for other dynamics than the suite's (a Bottleneck policy
    on a lifelong suite and the reverse, a policy of another `task`), or sees another radius than the lifelong suites' 5 (their
    published results are for radius 5). On the Bottleneck suite the env takes the policy's radius.
    Baselines fit every suite."""
    trained = getattr(agent, "env_config", None) or {}
    on_target = trained.get("on_target")
    fix = ("omit --checkpoint to use the shipped policy that fits, or pass a policy trained with "
           f"--preset {'lifelong-cpu' if suite.lifelong else 'bottleneck'}")
    if on_target is not None and is_lifelong(on_target) != suite.lifelong:
        kind = "lifelong (on_target=restart)" if is_lifelong(on_target) else f"Bottleneck-style (on_target={on_target})"
        raise EvalError(f"the policy was trained for {kind} episodes; suite {suite.name!r} is "
                        f"{'lifelong (restart)' if suite.lifelong else 'finish-mode (agents leave at their goal)'}: {fix}")
    task = trained.get("task", EnvConfig.task)
    if task != EnvConfig.task:
        raise EvalError(f"the policy was trained on the {task!r} task (envs/config.py EnvConfig.task); suite "
                        f"{suite.name!r} plays the {EnvConfig.task!r} one: evaluate it with `srmt bench ablation "
                        f"--task {task}` (its test set), or {fix}")
    if suite.lifelong and agent.obs_radius is not None and agent.obs_radius != suite.default_obs_radius:
        raise EvalError(f"the policy sees a radius-{agent.obs_radius} window; suite {suite.name!r} is defined "
                        f"with radius {suite.default_obs_radius}: {fix}")


def _check_engine(engine: str, scheduler: str | None, spec: AgentSpec | None) -> None:
    """EvalError for an engine request that cannot work: an unknown engine, --scheduler without the dask
    engine or the reverse, a dask run without an AgentSpec, or a scheduler that cannot be reached."""
    if engine not in ENGINES:
        raise EvalError(f"unknown engine {engine!r}; choose one of {list(ENGINES)}")
    if engine == "local":
        if scheduler is not None:
            raise EvalError("--scheduler is for --engine dask")
        return
    if scheduler is None:
        raise EvalError("--engine dask needs --scheduler ADDRESS (e.g. tcp://10.0.0.5:8786)")
    if spec is None:
        raise EvalError("--engine dask needs an AgentSpec: the workers build the agent from it")
    check_scheduler(scheduler)


def _connect(engine: str, scheduler: str | None) -> DaskEngine | None:
    """The dask engine connected to `scheduler` (checked by `_check_engine`), or None for the local engine."""
    return DaskEngine(scheduler) if engine == "dask" else None


@dataclass(frozen=True)
class EvalOptions:
    """Which episodes of a suite `evaluate` runs and how: everything but the agent and the results directory.
    Lists are kept as tuples."""

    maps_dir: str | None = None
    """directory with the benchmark's maps.yaml files (default: $SRMT_MAPS_DIR)"""
    quick: bool = False
    """episode selection (Suite.episodes): the suite's small subset"""
    maps: str | None = None
    """episode selection: only maps whose whole name matches this regex"""
    agents: tuple[int, ...] | None = None
    """episode selection: only these agent counts"""
    seeds: tuple[int, ...] | None = None
    """episode selection: only these seeds"""
    episodes: int | None = None
    """episode selection: only the first N selected episodes"""
    workers: int = 2
    """local engine processes; 1 runs in this process (and so does a ready agent given instead of a spec)"""
    compare: tuple[str | Path, ...] | None = ()
    """results shown beside ours: files (POGEMA raw JSON or JSONL) or names of the suite's published results
    (eval.results.compare_paths); None: every published result of the suite, unless a maps directory
    replaces its maps with other grids; ('none',) or (): nothing"""
    progress: bool = True
    """show a tqdm bar"""
    max_rows: int | None = None
    """agent rows per batched env (default eval.runner.MAX_ROWS)"""
    backend: str = "pogema"
    """batched env backend (envs/backends.py): pogema, or torch (same episodes, faster)"""
    engine: str = "local"
    """local (worker processes here) or dask (the cluster at `scheduler`, eval/cluster.py; `workers` is then
    the cluster's business). Same records either way."""
    scheduler: str | None = None
    """dask scheduler address (engine dask)"""

    def __post_init__(self) -> None:
        for name in ("agents", "seeds", "compare"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, tuple(value))


def options_of(options: EvalOptions | None, overrides: Mapping[str, Any]) -> EvalOptions:
    """`options` (default EvalOptions()) with the keyword `overrides` (EvalOptions fields) applied;
    TypeError naming the fields for any other keyword."""
    unknown = set(overrides) - {f.name for f in dataclasses.fields(EvalOptions)}
    if unknown:
        raise TypeError(f"unknown evaluation option(s) {sorted(unknown)}; EvalOptions fields: "
                        f"{[f.name for f in dataclasses.fields(EvalOptions)]}")
    return dataclasses.replace(options or EvalOptions(), **overrides)


@dataclass
class EvalPlan:
    """An evaluation request with every input checked and nothing written yet (`prepare`); `run` plays it."""

    suite: Suite
    selected: list[Episode]
    """the selected episodes, done ones included"""
    agent: Agent
    """built here once: for the checks, the description and the inline run"""
    spec: AgentSpec | None
    options: EvalOptions
    store: ResultStore
    """checked, not opened"""
    chunks: list[Chunk]
    """the episodes not done yet, in chunks (each env config validated)"""
    others: list[dict]
    compare_note: str
    description: str
    """how the agent acts (describe_agent), '' for baselines"""

    @property
    def todo(self) -> int:
        return sum(len(chunk.episodes) for chunk in self.chunks)

    def run(self) -> EvalResult:
        """Play the episodes not done yet, appending each record as it ends, and write the reports."""
        o, suite, agent = self.options, self.suite, self.agent
        started = time.perf_counter()
        cluster = _connect(o.engine, o.scheduler)  # an unreachable scheduler fails before anything is written
        store = self.store
        store.open()
        bar = None
        if o.progress and self.chunks:
            from tqdm import tqdm
            bar = tqdm(total=self.todo, desc=f"{suite.name} {agent.name}", unit="ep", dynamic_ncols=True)

        def emit(record: dict) -> None:
            store.append(record)
            if bar is not None:
                bar.update(1)

        try:
            if cluster is not None:
                cluster.run(self.spec, self.chunks, emit)
            elif self.spec is not None and o.workers > 1:  # each worker process rebuilds the agent from its spec
                run_chunks(self.spec, self.chunks, emit, workers=o.workers)
            else:  # the agent built (or given) here runs in this process
                run_chunks(agent, self.chunks, emit, workers=1)
        finally:
            store.close()
            if cluster is not None:
                cluster.close()
            if bar is not None:
                bar.close()

        wanted = {ep.key for ep in self.selected}
        ours = {episode_key(r): r for r in store.records if r["algorithm"] == agent.name and episode_key(r) in wanted}
        ordered = [ours[ep.key] for ep in self.selected if ep.key in ours]
        exported, content = store.export_file(ordered, agent.name)
        files = {"records": store.path, "json": exported}
        note = "\n\n".join(filter(None, [self.description, self.compare_note,
                                           f"{len(ordered)} of {len(self.selected)} selected episodes; agent "
                                           f"{agent.name}"]))
        if len(self.selected) != len(suite.episodes()):
            note += f" (the full suite has {len(suite.episodes())})"
        compared = match_counts(ordered, self.others)
        files.update(write_reports(suite, ordered, self.others, store.out_dir, note, compared, {exported: content}))
        return EvalResult(store.out_dir, ordered, ran=self.todo, skipped=len(self.selected) - self.todo,
                          seconds=time.perf_counter() - started, files=files, compared=compared,
                          others=restrict(self.others, set(ours)), compare_note=self.compare_note)


def prepare(suite_name: str, *, spec: AgentSpec | None = None, agent: Agent | None = None,
            out_dir: str | Path | None = None, options: EvalOptions | None = None, **overrides: Any) -> EvalPlan:
    """Check an evaluation request (see module docstring) and plan it; nothing is written. Arguments as
    `evaluate`. The agent is built once here (from `spec` unless `agent` is given), described once, and the
    episodes not done yet are cut into chunks once."""
    o = options_of(options, overrides)
    suite = get_suite(suite_name)
    selected = suite.episodes(quick=o.quick, maps=o.maps, agents=o.agents, seeds=o.seeds, limit=o.episodes)
    sources = [(path, load_records(path, suite.only_map)) for path in compare_paths(suite, o.compare)]
    for path, records in sources:
        if not records:
            raise EvalError(f"--compare {path}: the file holds no result records, so there is nothing to compare "
                            "with; pass a results file with records (JSON list or JSONL), or drop it")
    _check_engine(o.engine, o.scheduler, spec)
    if agent is None:
        if spec is None:
            raise EvalError("give an agent or an AgentSpec")
        agent = spec.build()
    registry = check_maps(suite, selected, o.maps_dir)
    check_agent_fits(suite, agent)
    obs_radius = agent.obs_radius or suite.default_obs_radius
    grids = suite_grids(suite, registry)
    compare_note = published_maps_differ(suite, registry, grids) if o.compare is None else ""
    others = [] if compare_note else label_compared(sources, agent.name)

    out = Path(out_dir) if out_dir is not None else Path("runs") / "eval" / f"{suite.name}-{agent.name.lower()}"
    identity = {"algo": spec.algo if spec else type(agent).__name__, "seed": getattr(agent, "seed", None),
                "sample": getattr(agent, "sample", False)}
    if getattr(agent, "shield", None):  # absent without a shield: earlier result directories still resume
        identity["shield"] = agent.shield
    if getattr(agent, "memory_intervention", "none") != "none":  # absent when off, as the shield
        identity["memory_intervention"] = agent.memory_intervention
    if spec is not None and spec.pool:
        identity["pool"] = dict(spec.pool)
    decoding = _decoding(agent)
    manifest = {"suite": suite.name, "algorithm": agent.name, "agent": identity, "obs_radius": obs_radius,
                "maps_dir": str(registry.maps_dir) if registry.maps_dir else None,
                "maps_sha256": maps_fingerprint(grids), "checkpoint": None, "decoding": decoding,
                "shield": (agent.shield or "none") if decoding else None}
    path = spec.policy_path if spec is not None else None
    if path is not None:
        identity["checkpoint_sha256"] = _sha256(path)
        manifest["checkpoint"] = str(path.resolve())
    store = ResultStore(out, manifest)  # reads an earlier run's records; writes nothing yet
    reports = [store.export_file([], agent.name)[0], *(out / name for name in REPORT_FILES)]
    check_replaceable(path for path in reports if path.exists())  # the reports an earlier run left can be replaced
    done = {k[1:] for k in store.done_keys() if k[0] == agent.name}
    todo = [ep for ep in selected if ep.key not in done]
    limits = {"max_rows": o.max_rows} if o.max_rows else {}
    if o.engine == "dask":
        limits["waves"] = 1  # small tasks: the scheduler balances them and results stream back sooner
    chunks = make_chunks(suite, todo, obs_radius, o.maps_dir, backend=o.backend,  # validates each config
                         guidance=getattr(agent, "guidance", EnvConfig.guidance), **limits)
    return EvalPlan(suite, selected, agent, spec, o, store, chunks, others, compare_note, describe_agent(agent))


def evaluate(suite_name: str, *, spec: AgentSpec | None = None, agent: Agent | None = None,
             out_dir: str | Path | None = None, options: EvalOptions | None = None, **overrides: Any) -> EvalResult:
    """Evaluate an agent on a suite (see module docstring): `prepare`, then `EvalPlan.run`.

    Args:
        suite_name: one of eval.suites.SUITES.
        spec: recipe of the agent (needed for workers > 1 and the dask engine); built here once to validate it.
        agent: a ready agent (runs inline unless `spec` is given too: then the workers build theirs from it).
        out_dir: results directory (default runs/eval/SUITE-ALGORITHM).
        options: the episode selection and run options (EvalOptions; default EvalOptions()).
        overrides: EvalOptions fields as keywords, over `options`, e.g.
            `evaluate("mazes", spec=spec, agents=[8], workers=1, backend="torch")`.
    """
    return prepare(suite_name, spec=spec, agent=agent, out_dir=out_dir, options=options, **overrides).run()


def evaluate_checkpoints(suite_name: str, checkpoints: Sequence[str | Path], spec: AgentSpec,
                         out_dir: str | Path, options: EvalOptions | None = None,
                         **overrides: Any) -> list[tuple[Path, EvalResult]]:
    """Evaluate each policy file of `checkpoints` (e.g. every checkpoint of a run: a learning curve) as
    `spec` with that checkpoint (every other knob of `spec` kept: decoding, shield, memory intervention,
    pool, seed, device), into OUT/NN-STEM/ (each resumable); writes OUT/checkpoints.md and
    OUT/checkpoints.json (one row per file: env steps from its meta, the suite's main metric).
    `options` and `overrides` as `evaluate`. A file given twice is evaluated once (said on stderr). Every
    file is checked, with every option, before the first episode runs."""
    suite = get_suite(suite_name)
    options = options_of(options, overrides)
    paths, repeats = unique_paths(checkpoints)
    for path in repeats:
        print(f"{path} is given more than once: evaluated once", file=sys.stderr)
    out = Path(out_dir)
    plans = []
    for i, path in enumerate(paths):
        try:
            plans.append(prepare(suite_name, spec=dataclasses.replace(spec, algo="srmt", checkpoint=str(path)),
                                 out_dir=out / f"{i:02d}-{path.stem}", options=options))
        except (EvalError, AgentError) as err:
            raise EvalError(f"{path}: {err}") from err
    results = [(path, plan.run()) for path, plan in zip(paths, plans)]
    metric = suite.main_metric
    totals = [(path, plan.agent.meta.get("env_steps"),
               next(r for r in aggregate(suite, result.records) if r.group == ALL and r.metric == metric))
              for (path, result), plan in zip(results, plans)]
    rows = [{"checkpoint": str(path), "env_steps": steps, "metric": metric, "mean": total.estimate.mean,
             "lo": total.estimate.lo, "hi": total.estimate.hi, "episodes": total.n} for path, steps, total in totals]
    lines = [f"# {suite.title}: one row per policy file", ""]
    full = len(suite.episodes())
    if any(total.n < full for _, _, total in totals):
        lines += [f"Rows over fewer episodes than the suite's {full} cover only the episodes selected.", ""]
    lines += [f"| # | checkpoint | env steps | {metric} (all) | 95% interval | episodes |", "|---|---|---|---|---|---|"]
    lines += [f"| {i} | {path.name} | {steps if steps is not None else '?'} | {total.estimate.mean:.3f} | "
              f"{interval(total.estimate)} | {total.n if total.n == full else f'{total.n} of {full}'} |"
              for i, (path, steps, total) in enumerate(totals)]
    replace_files({out / "checkpoints.json": (to_json(rows, indent=2) + "\n").encode(),
                   out / "checkpoints.md": ("\n".join(lines) + "\n").encode()})
    return results
