"""Result records in the POGEMA benchmark's raw format, and the resumable store.

One record per episode, as pogema-toolbox writes them (and as the benchmark's
raw_data_LMAPF/*/ALGO.json files hold them, in a JSON list):

    {"metrics": {"avg_throughput": 1.15625, "ep_length": 256, "avg_agents_density": 0.0412, "runtime": 0.42},
     "env_grid_search": {"seed": 0, "num_agents": 8, "map_name": "validation-random-seed-000"},
     "algorithm": "SRMT"}

Lifelong records add `avg_agents_density` (envs.metrics.AgentsDensity).
Bottleneck records carry CSR, ISR, SoC (true sum of costs), makespan,
ep_length and runtime. `runtime` is the wall time in seconds from the
episode's first to its last step; episodes run batched, so it is shared with
the episodes stepped beside it (not comparable with single-episode runtimes).

`ResultStore` appends records to ``episodes.jsonl`` as they arrive (one line
each, flushed), so an interrupted evaluation resumes where it stopped; a
``run.json`` manifest says which agent and settings produced them, and a store
refuses to mix results made with other settings (`IDENTITY_KEYS`).

Files written here are strict JSON: a non-finite number is written as null.
Results to compare with (`--compare`) are files, or by name the POGEMA
benchmark's published results shipped beside the maps
(``maps/data/pogema-benchmark/NN-suite/published/ALGO.json``).
"""
from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from envs.metrics import METRICS
from eval.suites import REPORTED, Episode, EvalError, Suite
from common.outputs import DIRECTORY, check_output
from maps.registry import BENCHMARK_DIR

RECORDS_FILE = "episodes.jsonl"
MANIFEST_FILE = "run.json"
MANIFEST_FORMAT = "srmt-eval-1"
IDENTITY_KEYS = ("suite", "algorithm", "agent", "obs_radius", "maps_dir", "maps_sha256")
"""Manifest entries that must agree for results to be appended to an existing store (an entry an older
manifest lacks is not checked)."""
PUBLISHED = "published"
"""Folder of a benchmark suite (maps/data/pogema-benchmark/NN-suite/) holding its published ALGO.json files."""
NO_COMPARE = "none"
"""`--compare none`: compare with nothing."""
RATES = ("avg_throughput", "CSR", "ISR")
"""Metrics that are rates, written as floats even when integral (1.0); other integral values are ints."""
METRIC_ORDER = tuple(dict.fromkeys((*REPORTED["restart"], *METRICS["finish"], *METRICS["restart"])))
"""Order of the metrics in a record: the lifelong main metric, then finish mode's, as the benchmark's files."""


def finite(value: Any) -> Any:
    """`value` with every non-finite float (NaN, infinities) replaced by None, in nested dicts and lists.

    >>> finite({"mean": 1.5, "lo": float("nan"), "rows": [float("inf"), 2]})
    {'mean': 1.5, 'lo': None, 'rows': [None, 2]}
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def to_json(value: Any, **kwargs: Any) -> str:
    """Strict JSON text of `value` (non-finite numbers as null; `kwargs` as json.dumps)."""
    return json.dumps(finite(value), allow_nan=False, **kwargs)


def _plain_number(value: float) -> float | int:
    value = float(value)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def make_record(algorithm: str, episode: Episode, metrics: dict[str, float], runtime: float) -> dict:
    """A raw-format record; integral metric values (SoC, makespan, ...) are written as ints."""
    values = {k: float(v) if k in RATES else _plain_number(v) for k, v in metrics.items()}
    ordered = {k: values[k] for k in METRIC_ORDER if k in values}
    ordered.update({k: v for k, v in values.items() if k not in ordered})
    ordered["runtime"] = round(float(runtime), 6)
    return {
        "metrics": finite(ordered),
        "env_grid_search": {"seed": episode.seed, "num_agents": episode.num_agents, "map_name": episode.map_name},
        "algorithm": algorithm,
    }


def record_key(record: dict) -> tuple[str, str, int, int]:
    """(algorithm, map_name, num_agents, seed) of a record."""
    grid = record["env_grid_search"]
    return (record["algorithm"], grid["map_name"], int(grid["num_agents"]), int(grid.get("seed", 0)))


def _check_record(record: Any, where: str, map_name: str | None = None) -> dict:
    """`record` if it is a raw-format record; one without a map name gets `map_name` when given."""
    grid = record.get("env_grid_search") if isinstance(record, dict) else None
    if isinstance(grid, dict) and "map_name" not in grid and map_name is not None:
        record = {**record, "env_grid_search": {**grid, "map_name": map_name}}
    ok = (isinstance(record, dict) and isinstance(record.get("metrics"), dict)
          and isinstance(record.get("env_grid_search"), dict) and isinstance(record.get("algorithm"), str)
          and "map_name" in record["env_grid_search"] and "num_agents" in record["env_grid_search"])
    if not ok:
        raise EvalError(f"{where}: not a POGEMA raw result record (need 'metrics', 'algorithm' and "
                        "'env_grid_search' with map_name and num_agents)")
    return record


def load_records(path: str | os.PathLike, map_name: str | None = None) -> list[dict]:
    """Records of a results file: a JSON list (POGEMA raw_data *.json) or JSON lines (episodes.jsonl).

    `map_name`: the map of records that name none (the benchmark's Warehouse files: a suite of one map).

    Raises:
        EvalError: missing file, invalid JSON, or entries that are not raw-format records.
    """
    path = Path(path)
    if not path.is_file():
        raise EvalError(f"results file {path} does not exist")
    text = path.read_text(encoding="utf-8")
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise EvalError(f"{path}: invalid JSON ({err})") from err
        return [_check_record(r, f"{path}[{i}]", map_name) for i, r in enumerate(data)]
    records = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(_check_record(json.loads(line), f"{path}:{n}", map_name))
        except json.JSONDecodeError as err:
            raise EvalError(f"{path}:{n}: invalid JSON line ({err})") from err
    return records


def unique_paths(paths: Sequence[str | Path]) -> tuple[list[Path], list[Path]]:
    """(each file once, in first-given order; the entries dropped as repeats), compared by resolved path."""
    kept: dict[Path, Path] = {}
    repeats = []
    for path in map(Path, paths):
        if path.resolve() in kept:
            repeats.append(path)
        else:
            kept[path.resolve()] = path
    return list(kept.values()), repeats


def published_files(suite: Suite) -> dict[str, Path]:
    """The benchmark's published results of `suite` shipped with srmt: name (file stem) -> file; empty for
    suites the benchmark publishes none of (bottleneck, validation)."""
    if suite.collection is None:
        return {}
    return {path.stem: path for path in sorted((BENCHMARK_DIR / suite.collection / PUBLISHED).glob("*.json"))}


def _published_file(suite: Suite, name: str) -> Path:
    """The published file called `name` (case-insensitive); EvalError listing the available names."""
    published = published_files(suite)
    by_name = {stem.lower(): path for stem, path in published.items()}
    if name.lower() in by_name:
        return by_name[name.lower()]
    if not published:
        raise EvalError(f"--compare {name!r}: suite {suite.name!r} has no published results (the POGEMA "
                        "benchmark publishes the five lifelong suites'); give a results file (JSON list or JSONL)")
    raise EvalError(f"--compare {name!r} is neither a results file nor a published algorithm of suite "
                    f"{suite.name!r}; published: {', '.join(published)} (or give a file path, or 'none')")


def compare_paths(suite: Suite, compare: Sequence[str | os.PathLike] | None) -> list[Path]:
    """The results files `--compare` names: None (the default) -> every published file of the suite;
    ['none'] -> none; otherwise each entry a file path or a published algorithm's name. Each file once.

    Raises:
        EvalError: 'none' beside other entries, or an entry that is neither a file nor a published name.
    """
    if compare is None:
        return list(published_files(suite).values())
    entries = [str(c) for c in compare]
    if NO_COMPARE in entries:
        if len(entries) > 1:
            raise EvalError(f"--compare {NO_COMPARE} compares with nothing: give it alone")
        return []
    paths = []
    for entry in entries:
        path = Path(entry)
        looks_like_file = path.exists() or path.suffix in (".json", ".jsonl") or len(path.parts) > 1
        paths.append(path if looks_like_file else _published_file(suite, entry))
    return unique_paths(paths)[0]


def label_compared(sources: Sequence[tuple[Path, list[dict]]], ours: str) -> list[dict]:
    """The records of compared files (path, records), kept apart from our `ours` records and from the same
    algorithm in another file: such records are labelled 'ALGO (FILE)' (the file's path when two files
    share a name); the others keep their algorithm name."""
    files: dict[str, set[Path]] = defaultdict(set)
    for path, records in sources:
        for record in records:
            files[record["algorithm"]].add(path)
    clash = {algo for algo, paths in files.items() if algo == ours or len(paths) > 1}
    names = [path.name for path, _ in sources]
    labelled = []
    for path, records in sources:
        where = path.name if names.count(path.name) == 1 else str(path)
        labelled += [r if r["algorithm"] not in clash else {**r, "algorithm": f"{r['algorithm']} ({where})"}
                     for r in records]
    return labelled


class ResultStore:
    """episodes.jsonl + run.json in `out_dir`; resumes an earlier run of the same agent and suite.

    Two steps, so that every check comes before any write: making the store checks the directory and an
    earlier run's manifest and reads its records (nothing is written); `open()` creates the directory,
    drops a line an interruption cut short, and writes the manifest."""

    def __init__(self, out_dir: str | os.PathLike, manifest: dict):
        self.out_dir = Path(out_dir)
        check_output(self.out_dir, "--out", DIRECTORY)
        self.path = self.out_dir / RECORDS_FILE
        self.manifest = {"format": MANIFEST_FORMAT, **manifest}
        if self.path.exists() and self.path.stat().st_size > 0:
            self._check_manifest(self.out_dir / MANIFEST_FILE)
        self._records, self._good_bytes, self._end_line = self._read_existing()
        self._file = None

    def _check_manifest(self, manifest_path: Path) -> None:
        try:
            old = json.loads(manifest_path.read_text())
        except (OSError, json.JSONDecodeError):
            raise EvalError(f"{self.out_dir} holds {RECORDS_FILE} but no readable {MANIFEST_FILE}; "
                            "it is not an srmt evaluation of this agent: use another --out") from None
        diff = [f"{k}: {old[k]!r} there, {self.manifest.get(k)!r} now"
                for k in IDENTITY_KEYS if k in old and old[k] != self.manifest.get(k)]
        if diff:
            raise EvalError(f"{self.out_dir} holds results of another evaluation, made with other settings "
                            f"({'; '.join(diff)}); resuming would mix them: use another --out, or delete "
                            f"{self.out_dir} to start over (nothing was written)")

    def _read_existing(self) -> tuple[list[dict], int, bool]:
        """(records of the file, bytes of its complete lines, whether its last record lacks its newline);
        a last line cut by an interruption is not a record (its episode runs again)."""
        if not self.path.exists():
            return [], 0, False
        raw = self.path.read_bytes()
        lines = raw.split(b"\n")
        records, good_bytes, end_line = [], 0, False
        for i, line in enumerate(lines):
            last = i == len(lines) - 1
            if not line.strip():
                good_bytes += len(line) + (0 if last else 1)
                continue
            try:
                record = _check_record(json.loads(line), f"{self.path}:{i + 1}")
            except (json.JSONDecodeError, UnicodeDecodeError, EvalError):
                if last:  # a line cut by an interruption: the episode did not finish, run it again
                    break
                raise EvalError(f"{self.path}:{i + 1} is not a valid record; fix or remove that line") from None
            end_line = last  # complete JSON but no newline yet: keep it, `open` ends the line
            records.append(record)
            good_bytes += len(line) + (0 if last else 1)
        return records, good_bytes, end_line

    def open(self) -> None:
        """Create the directory, repair the records file (a cut line dropped, the last line ended) and write
        the manifest: the store's first writes."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if self.path.exists() and self._good_bytes < self.path.stat().st_size:
            with open(self.path, "r+b") as f:
                f.truncate(self._good_bytes)
        if self._end_line:
            with open(self.path, "ab") as f:
                f.write(b"\n")
        manifest_path = self.out_dir / MANIFEST_FILE
        tmp = manifest_path.with_suffix(".json.tmp")
        tmp.write_text(to_json(self.manifest, indent=2) + "\n")
        os.replace(tmp, manifest_path)

    @property
    def records(self) -> list[dict]:
        return list(self._records)

    def done_keys(self) -> set[tuple[str, str, int, int]]:
        return {record_key(r) for r in self._records}

    def append(self, record: dict) -> None:
        """Write one record line and flush it to the OS (fsync on close)."""
        if self._file is None:
            self._file = open(self.path, "a", encoding="utf-8")
        self._file.write(to_json(record) + "\n")
        self._file.flush()
        self._records.append(record)

    def close(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None

    def export_file(self, records: Iterable[dict], algorithm: str) -> tuple[Path, bytes]:
        """The records as the benchmark's `ALGO.json` (one JSON list): its path in the store and its content,
        for `replace_files`."""
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in algorithm) or "results"
        return self.out_dir / f"{safe}.json", to_json(list(records)).encode()


def staging_path(path: Path) -> Path:
    """Where `replace_files` stages the new content of `path` (beside it, hidden)."""
    return path.with_name(f".{path.stem}.new{path.suffix}")


def check_replaceable(paths: Iterable[Path]) -> None:
    """EvalError naming the first of `paths` that `replace_files` could not replace: its folder missing or
    not writable, or the file read-only (no write permission bit, or not writable by this user)."""
    for path in paths:
        problem = None
        if not path.parent.is_dir():
            problem = f"its folder {path.parent} does not exist"
        elif not os.access(path.parent, os.W_OK):
            problem = f"its folder {path.parent} is not writable"
        elif path.exists() and (not os.access(path, os.W_OK) or not path.stat().st_mode & 0o222):
            problem = "it is read-only"
        if problem:
            raise EvalError(f"{path}: {problem}; nothing was written (make it writable and rerun)")


def replace_files(files: Mapping[Path, bytes | Path]) -> None:
    """Replace every file of `files` or none. A value is the new content, or the staging path
    (`staging_path`) a writer already wrote it to (left out when that writer wrote nothing). Every target
    is checked first (its folder writable; an existing file not read-only: one made read-only is not
    replaced), every content is staged beside its target, then each is renamed over its target.

    Raises:
        EvalError: a target that cannot be written, naming it; nothing was replaced.
    """
    check_replaceable(files)
    staged = {path: staging_path(path) for path in files}
    try:
        for path, content in files.items():
            if isinstance(content, bytes):
                staged[path].write_bytes(content)
    except OSError as err:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)
        raise EvalError(f"cannot write beside {path} ({err.strerror or err}); nothing was written") from err
    for path, tmp in staged.items():
        if tmp.exists():
            os.replace(tmp, path)
