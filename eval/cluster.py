"""`srmt eval --engine dask`: the episodes of a suite on the workers of a dask.distributed cluster.

The parent splits the selected episodes into small chunks (one batched wave
each, largest cost = agents x steps first, so the scheduler balances them),
submits one task per chunk and writes each chunk's records into the same
``episodes.jsonl`` as the local engine as soon as the chunk comes back, so
resume, tables and ``--compare`` work unchanged. A worker keeps every agent it
built (one policy load per worker); the policy file travels to the workers
once (scattered, keyed by its SHA-256), so they need no shared filesystem for
it. A worker that dies mid-chunk loses nothing: dask runs the chunk again on
another worker, and its records are written only when it completes. An
interrupt cancels what is left; rerunning the command resumes.

Workers need srmt installed (the same version and the `cluster` extra), and a
`--maps-dir` at the same path when one is used (the benchmark suites ship).
"""
from __future__ import annotations

import ctypes
import dataclasses
import hashlib
import os
import socket
import tempfile
import uuid
from pathlib import Path
from typing import Callable, Sequence

from agents import Agent
from common.device import limit_threads
from agents.spec import AgentSpec
from eval.runner import Chunk, run_chunk
from eval.suites import EvalError

CONNECT_TIMEOUT_S = 10
"""How long to wait for the scheduler before saying it cannot be reached."""
ENGINES = ("local", "dask")

_AGENTS: dict[tuple, Agent] = {}
"""Agents built in this worker process, by (spec, policy digest): each policy loads once per worker."""
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
"""glibc mallopt parameters."""


def _undo_malloc_trim() -> None:
    """dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which turns off glibc's adaptive
    mmap threshold: every large tensor is then a fresh mmap, and evaluation runs about 2x slower
    (measured with benchmarks/bench_eval_cluster.py). Raise both thresholds back (glibc only)."""
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(M_MMAP_THRESHOLD, 32 << 20)
    libc.mallopt(M_TRIM_THRESHOLD, 256 << 20)


def _worker_agent(spec: AgentSpec, policy: bytes | None, digest: str | None) -> Agent:
    key = (spec, digest)
    if key not in _AGENTS:
        _undo_malloc_trim()
        limit_threads(1)
        if policy is not None:
            path = Path(tempfile.gettempdir()) / f"srmt-policy-{digest}.pt"
            if not path.is_file():
                path.write_bytes(policy)
            spec = dataclasses.replace(spec, checkpoint=str(path))
        _AGENTS[key] = spec.build()
    return _AGENTS[key]


def run_chunk_task(spec: AgentSpec, policy: bytes | None, digest: str | None, chunk: Chunk) -> list[dict]:
    """A dask task: the records of every episode of `chunk`."""
    records: list[dict] = []
    run_chunk(_worker_agent(spec, policy, digest), chunk, records.append)
    return records


def _unreachable(address: str, err: BaseException) -> EvalError:
    return EvalError(f"cannot reach the dask scheduler at {address!r} within {CONNECT_TIMEOUT_S} s ({err}); "
                     f"start one with `dask scheduler` and workers with `dask worker {address}`, or fix --scheduler")


def _distributed_missing(err: ImportError) -> EvalError:
    return EvalError(f"--engine dask needs dask.distributed ({err}): pip install -e \".[cluster]\"")


def check_scheduler(address: str) -> None:
    """EvalError for a --scheduler that is not a dask address (PROTOCOL://HOST:PORT, e.g. tcp://10.0.0.5:8786)
    or where nothing listens (one TCP connection, at most CONNECT_TIMEOUT_S): checked before any work, and
    without making a dask client, which would wait for its own timeouts (again on exit)."""
    try:
        from distributed.comm import parse_address, parse_host_port
    except ImportError as err:
        raise _distributed_missing(err) from err
    try:
        protocol, location = parse_address(address)
        host, port = parse_host_port(location) if protocol in ("tcp", "tls") else (None, None)
    except ValueError as err:
        raise EvalError(f"--scheduler {address!r} is not a dask scheduler address ({err}); pass one like "
                        "tcp://10.0.0.5:8786") from err
    if host is None:  # another protocol (inproc, ucx): the client checks it
        return
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as err:
        raise _unreachable(address, err) from err


class DaskEngine:
    """A connection to a dask scheduler that runs chunks of episodes on its workers."""

    def __init__(self, address: str):
        try:
            from distributed import Client
        except ImportError as err:
            raise _distributed_missing(err) from err
        try:
            self.client = Client(address, timeout=f"{CONNECT_TIMEOUT_S}s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as err:
            raise _unreachable(address, err) from err
        self.address = address

    def workers(self) -> int:
        return len(self.client.scheduler_info()["workers"])

    def run(self, spec: AgentSpec, chunks: Sequence[Chunk], emit: Callable[[dict], None]) -> None:
        """Run `chunks` on the cluster; emit each record here as its chunk completes.

        Raises:
            EvalError: a chunk failed on bad input (its message).
            RuntimeError: a chunk failed otherwise, or killed workers again and again.
        """
        from distributed import as_completed

        policy = digest = None
        if spec.policy_path is not None:
            data = spec.policy_path.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            policy = self.client.scatter(data, broadcast=True, hash=False)
        run = uuid.uuid4().hex[:8]
        futures = [self.client.submit(run_chunk_task, spec, policy, digest, chunk, pure=False,
                                      key=f"srmt-chunk-{run}-{i}") for i, chunk in enumerate(chunks)]
        try:
            for future in as_completed(futures, loop=self.client.loop):
                try:
                    records = future.result()
                except EvalError:
                    raise
                except Exception as err:  # noqa: BLE001 - a worker's failure, with its type and message
                    raise RuntimeError(f"a chunk failed on the dask cluster at {self.address}: "
                                       f"{type(err).__name__}: {err}; finished episodes are saved, "
                                       "rerun to resume") from err
                for record in records:
                    emit(record)
        finally:
            self.client.cancel([f for f in futures if not f.done()])

    def close(self) -> None:
        self.client.close()
