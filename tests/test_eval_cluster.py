"""`srmt eval --engine dask` on a real local dask cluster (scheduler and worker processes)."""
import json
import os
import signal
import socket
import types

import pytest

distributed = pytest.importorskip("distributed", reason="the cluster extra is not installed: pip install -e '.[cluster]'")

from eval import cluster as cluster_module  # noqa: E402
from eval.cluster import DaskEngine  # noqa: E402
from eval.evaluate import evaluate  # noqa: E402
from eval.tables import episode_key  # noqa: E402
from eval.results import load_records  # noqa: E402
from eval.runner import AgentSpec, make_chunks  # noqa: E402
from eval.suites import EvalError, get_suite  # noqa: E402
from conftest import finish, srmt, wait_for  # noqa: E402

pytestmark = pytest.mark.slow  # starts a dask cluster (worker processes)

SPEC = AgentSpec(algo="srmt", lifelong=True)
SELECTION = dict(maps="validation-mazes-seed-00[0-2]", agents=[8, 16], seeds=[0, 1])
EPISODES = 12  # 3 maps x 2 agent counts x 2 seeds


@pytest.fixture(scope="module")
def scheduler():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster:
        yield cluster.scheduler_address


def _metrics(records):
    return {episode_key(r): {k: v for k, v in r["metrics"].items() if k != "runtime"} for r in records}


def test_dask_engine_writes_the_records_of_the_local_engine(scheduler, tmp_path):
    local = evaluate("mazes", spec=SPEC, out_dir=tmp_path / "local", workers=1, progress=False, **SELECTION)
    dask = evaluate("mazes", spec=SPEC, out_dir=tmp_path / "dask", engine="dask", scheduler=scheduler,
                    progress=False, **SELECTION)
    assert len(dask.records) == EPISODES and _metrics(dask.records) == _metrics(local.records)
    assert len(load_records(tmp_path / "dask" / "episodes.jsonl")) == EPISODES
    again = evaluate("mazes", spec=SPEC, out_dir=tmp_path / "dask", engine="dask", scheduler=scheduler,
                     progress=False, **SELECTION)
    assert (again.ran, again.skipped) == (0, EPISODES)


def test_a_worker_killed_mid_chunk_loses_nothing_and_writes_nothing_twice(scheduler):
    suite = get_suite("mazes")
    chunks = make_chunks(suite, suite.episodes(**SELECTION), 5, None, waves=1, max_envs=2)
    assert len(chunks) == 6  # per agent count 6 episodes, 2 env slots x 1 wave per chunk: 2 x 3 chunks
    engine = DaskEngine(scheduler)
    pids = engine.client.run(os.getpid)
    killed = []
    records = []

    def emit(record):
        records.append(record)
        if not killed:  # first record back: kill a worker that is in the middle of a chunk
            busy = [w for w, keys in engine.client.processing().items() if keys]
            assert busy, "no worker was running a chunk"
            os.kill(pids[busy[0]], signal.SIGKILL)
            killed.append(busy[0])

    try:
        engine.run(SPEC, chunks, emit)
    finally:
        engine.close()
    assert killed
    keys = [episode_key(r) for r in records]
    assert len(keys) == len(set(keys)) == EPISODES


def test_interrupted_dask_evaluation_resumes(scheduler, tmp_path):
    out = tmp_path / "out"
    command = ["eval", "mazes", "--engine", "dask", "--scheduler", scheduler, "--maps", SELECTION["maps"],
               "--agents", "8", "16", "--seeds", "0", "1", "--out", str(out), "--no-progress"]
    proc = srmt(*command)
    path = out / "episodes.jsonl"
    wait_for(lambda: path.is_file() and path.read_text().count("\n") >= 1, proc, timeout=120)
    proc.send_signal(signal.SIGINT)
    code, output, _ = finish(proc, 60)
    assert code == 130, output[-2000:]
    assert "finished episodes are saved; rerun the same command to resume" in output
    first = load_records(path)
    assert 1 <= len(first) < EPISODES
    code, output, _ = finish(srmt(*command), 180)
    assert code == 0, output[-2000:]
    assert f"{EPISODES - len(first)} episodes run, {len(first)} already done" in output
    keys = [episode_key(r) for r in load_records(path)]
    assert len(keys) == len(set(keys)) == EPISODES
    assert json.loads((out / "run.json").read_text())["suite"] == "mazes"


def test_unreachable_scheduler_is_a_clear_error_within_seconds(tmp_path, monkeypatch):
    """Bounded by construction: one TCP connection with the 2 s timeout, and no dask client (which would wait
    for its own timeouts)."""
    monkeypatch.setattr(cluster_module, "CONNECT_TIMEOUT_S", 2)
    tries = []

    def connect(address, timeout):
        tries.append((address, timeout))
        return socket.create_connection(address, timeout=timeout)

    monkeypatch.setattr(cluster_module, "socket", types.SimpleNamespace(create_connection=connect))
    monkeypatch.setattr(distributed, "Client", lambda *a, **k: pytest.fail("a dask client was made"))
    with pytest.raises(EvalError, match=r"cannot reach the dask scheduler at 'tcp://127.0.0.1:9' within 2 s .*"
                                        r"start one with `dask scheduler`"):
        evaluate("mazes", spec=SPEC, out_dir=tmp_path / "o", engine="dask", scheduler="tcp://127.0.0.1:9",
                 progress=False, **SELECTION)
    assert tries == [(("127.0.0.1", 9), 2)]
    assert not (tmp_path / "o").exists()


def test_engine_options_are_checked(tmp_path):
    with pytest.raises(EvalError, match=r"--engine dask needs --scheduler ADDRESS"):
        evaluate("mazes", spec=SPEC, out_dir=tmp_path / "o", engine="dask", progress=False, **SELECTION)
    with pytest.raises(EvalError, match="--scheduler is for --engine dask"):
        evaluate("mazes", spec=SPEC, out_dir=tmp_path / "o", scheduler="tcp://x:1", progress=False, **SELECTION)
    with pytest.raises(EvalError, match=r"unknown engine 'ray'"):
        evaluate("mazes", spec=SPEC, out_dir=tmp_path / "o", engine="ray", progress=False, **SELECTION)
