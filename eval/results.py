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
``run.json`` manifest says which agent produced them, and a store refuses to
mix results of another agent, checkpoint or suite.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

from eval.suites import Episode, EvalError
from maps.files import unwritable

RECORDS_FILE = "episodes.jsonl"
MANIFEST_FILE = "run.json"
MANIFEST_FORMAT = "srmt-eval-1"
IDENTITY_KEYS = ("suite", "algorithm", "agent")
"""Manifest entries that must agree for results to be appended to an existing store."""


def _plain_number(value: float) -> float | int:
    value = float(value)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def make_record(algorithm: str, episode: Episode, metrics: dict[str, float], runtime: float) -> dict:
    """A raw-format record; integral metric values (SoC, makespan, ...) are written as ints."""
    values = {k: _plain_number(v) for k, v in metrics.items() if k not in ("CSR", "ISR", "avg_throughput")}
    for k in ("CSR", "ISR", "avg_throughput"):
        if k in metrics:
            values[k] = float(metrics[k])
    ordered = {k: values[k] for k in ("avg_throughput", "CSR", "ISR", "SoC", "makespan", "ep_length") if k in values}
    ordered.update({k: v for k, v in values.items() if k not in ordered})
    ordered["runtime"] = round(float(runtime), 6)
    return {
        "metrics": ordered,
        "env_grid_search": {"seed": episode.seed, "num_agents": episode.num_agents, "map_name": episode.map_name},
        "algorithm": algorithm,
    }


def record_key(record: dict) -> tuple[str, str, int, int]:
    """(algorithm, map_name, num_agents, seed) of a record."""
    grid = record["env_grid_search"]
    return (record["algorithm"], grid["map_name"], int(grid["num_agents"]), int(grid.get("seed", 0)))


def _check_record(record: Any, where: str) -> dict:
    ok = (isinstance(record, dict) and isinstance(record.get("metrics"), dict)
          and isinstance(record.get("env_grid_search"), dict) and isinstance(record.get("algorithm"), str)
          and "map_name" in record["env_grid_search"] and "num_agents" in record["env_grid_search"])
    if not ok:
        raise EvalError(f"{where}: not a POGEMA raw result record (need 'metrics', 'algorithm' and "
                        "'env_grid_search' with map_name and num_agents)")
    return record


def load_records(path: str | os.PathLike) -> list[dict]:
    """Records of a results file: a JSON list (POGEMA raw_data *.json) or JSON lines (episodes.jsonl).

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
        return [_check_record(r, f"{path}[{i}]") for i, r in enumerate(data)]
    records = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(_check_record(json.loads(line), f"{path}:{n}"))
        except json.JSONDecodeError as err:
            raise EvalError(f"{path}:{n}: invalid JSON line ({err})") from err
    return records


def check_writable(out_dir: Path) -> None:
    """Create `out_dir` if needed and prove a file can be written there (EvalError otherwise)."""
    problem = unwritable(out_dir)
    if problem:
        raise EvalError(f"output directory {out_dir} is not writable ({problem}); "
                        "pass --out DIR with a directory you can write to")


class ResultStore:
    """episodes.jsonl + run.json in `out_dir`; resumes an earlier run of the same agent and suite."""

    def __init__(self, out_dir: str | os.PathLike, manifest: dict):
        self.out_dir = Path(out_dir)
        check_writable(self.out_dir)
        self.path = self.out_dir / RECORDS_FILE
        self.manifest = {"format": MANIFEST_FORMAT, **manifest}
        manifest_path = self.out_dir / MANIFEST_FILE
        if self.path.exists() and self.path.stat().st_size > 0:
            self._check_manifest(manifest_path)
        self._records = self._load_existing()
        tmp = manifest_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.manifest, indent=2) + "\n")
        os.replace(tmp, manifest_path)
        self._file = None

    def _check_manifest(self, manifest_path: Path) -> None:
        try:
            old = json.loads(manifest_path.read_text())
        except (OSError, json.JSONDecodeError):
            raise EvalError(f"{self.out_dir} holds {RECORDS_FILE} but no readable {MANIFEST_FILE}; "
                            "it is not an srmt evaluation of this agent: use another --out") from None
        diff = [f"{k}: {old.get(k)!r} there, {self.manifest.get(k)!r} now"
                for k in IDENTITY_KEYS if old.get(k) != self.manifest.get(k)]
        if diff:
            raise EvalError(f"{self.out_dir} holds results of another evaluation ({'; '.join(diff)}); "
                            f"use another --out, or move {self.path} away to start over")

    def _load_existing(self) -> list[dict]:
        if not self.path.exists():
            return []
        raw = self.path.read_bytes()
        lines = raw.split(b"\n")
        records, good_bytes = [], 0
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
            if last:  # complete JSON but no newline yet: keep it and end the line
                with open(self.path, "ab") as f:
                    f.write(b"\n")
                good_bytes += 1
            records.append(record)
            good_bytes += len(line) + (0 if last else 1)
        if good_bytes < len(raw):
            with open(self.path, "r+b") as f:
                f.truncate(good_bytes)
        return records

    @property
    def records(self) -> list[dict]:
        return list(self._records)

    def done_keys(self) -> set[tuple[str, str, int, int]]:
        return {record_key(r) for r in self._records}

    def append(self, record: dict) -> None:
        """Write one record line and flush it to the OS (fsync on close)."""
        if self._file is None:
            self._file = open(self.path, "a", encoding="utf-8")
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        self._records.append(record)

    def close(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None

    def export_json(self, records: Iterable[dict], algorithm: str) -> Path:
        """Write the records as the benchmark's `ALGO.json` (one JSON list)."""
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in algorithm) or "results"
        path = self.out_dir / f"{safe}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(list(records)))
        os.replace(tmp, path)
        return path
