"""`srmt bench ablation`: the plan and its refusals, resume, the aggregation over seeds, the training curve
reader, the summary file and figure (runs faked: no test trains)."""
from __future__ import annotations

import json
import math
import sys

import pytest

import benchmarks
from benchmarks import bench_ablation as ab


def fake_record(job: ab.Job, csr: float = 1.0) -> dict:
    """What run_one returns, for two corridor lengths (one short, one long)."""
    return dict(key=job.run.key, reward=job.run.reward, cell=job.run.cell.name, seed=job.run.seed,
                budget=job.budget, steps_to_csr90=1000 * (job.run.seed + 1),
                per_length={"3": dict(CSR=csr, ISR=1.0, SoC=10.0, episodes=10),
                            "100": dict(CSR=0.0, ISR=0.5, SoC=300.0, episodes=10)})


@pytest.fixture
def fake_runs(monkeypatch):
    """Replace run_one by a recorder that returns fake_record; the list of keys it ran."""
    ran: list[str] = []

    def fake(job: ab.Job) -> dict:
        ran.append(job.run.key)
        return fake_record(job)

    monkeypatch.setattr(ab, "run_one", fake)
    return ran


def test_cells_parse_and_name_their_files():
    cell = ab.parse_cell("srmt,memory=stored")
    assert (cell.variant, cell.memory, cell.intervention, cell.name, cell.slug) == (
        "srmt", "stored", "none", "srmt,memory=stored", "srmt.memory-stored")
    assert ab.Run("sparse", ab.parse_cell("srmt,intervention=zero-pool"), 3).key == \
        "sparse-srmt.intervention-zero-pool-seed3"


@pytest.mark.parametrize("cells, rewards, seeds, says", [
    (["empty,memory=stored"], ["sparse"], 1, "cell 'empty,memory=stored': variant 'empty' carries no memory"),
    (["attention,memory=learned"], ["sparse"], 1, "cell 'attention,memory=learned'"),
    (["rmt,intervention=zero-pool"], ["sparse"], 1, "variant 'rmt' reads no shared pool"),
    (["srmt,intervention=erase"], ["sparse"], 1, "unknown memory intervention 'erase'"),
    (["lstm"], ["sparse"], 1, "cell 'lstm': unknown variant 'lstm'"),
    (["srmt,memory=forgetful"], ["sparse"], 1, "unknown memory mode 'forgetful'"),
    (["srmt,pool=local"], ["sparse"], 1, "'pool=local' is not memory=MODE"),
    (["gru,mask=full"], ["sparse"], 1, "cell 'gru,mask=full': variant 'gru' has no self-attention"),
    (["srmt,mask=diagonal"], ["sparse"], 1, "unknown mask 'diagonal'"),
    (["srmt"], ["sparse", "sparser"], 1, "reward scheme 'sparser'"),
    (["srmt", "srmt"], ["sparse"], 1, "given twice"),
    (["srmt"], ["sparse"], 0, "--seeds 0"),
])
def test_plan_refuses_cells_that_cannot_run(cells, rewards, seeds, says):
    with pytest.raises(ab.AblationError) as err:
        ab.plan(cells, rewards, seeds)
    assert says in str(err.value)


def test_plan_interleaves_seeds_within_a_reward_scheme():
    keys = [r.key for r in ab.plan(["srmt", "empty"], ["sparse", "dense"], 2)]
    assert keys == ["sparse-srmt-seed0", "sparse-empty-seed0", "sparse-srmt-seed1", "sparse-empty-seed1",
                    "dense-srmt-seed0", "dense-empty-seed0", "dense-srmt-seed1", "dense-empty-seed1"]


def test_train_command_is_the_preset_with_the_cell_and_the_budget(tmp_path):
    cell = ab.parse_cell("srmt,mask=full,memory=stored")
    assert (cell.name, cell.slug) == ("srmt,memory=stored,mask=full", "srmt.memory-stored.mask-full")
    job = ab.Job(ab.Run("sparse", cell, 2), 150_000, str(tmp_path), ("--lr", "1"))
    assert job.train_command()[1:] == [
        "-m", "cli.main", "train", "--preset", "bottleneck", "--reward", "sparse", "--variant", "srmt",
        "--memory", "stored", "--attention_mask", "full", "--seed", "2", "--experiment", str(tmp_path / "runs" / job.run.key / "train"),
        "--train_for_env_steps", "150000", "--lr", "1"]


def test_a_failed_training_names_the_run_and_its_log(tmp_path, monkeypatch):
    monkeypatch.setattr(ab, "train_command", lambda *options: [sys.executable, "-c", "raise SystemExit(3)"])
    job = ab.Job(ab.Run("sparse", ab.parse_cell("gru"), 0), 1000, str(tmp_path))
    with pytest.raises(RuntimeError, match="training sparse-gru-seed0 exited with code 3"):
        ab.train(job)


def test_bad_cells_exit_2_before_any_work(tmp_path, fake_runs, capsys):
    work = tmp_path / "work"
    code = benchmarks.main(["ablation", "--cells", "srmt", "empty,memory=stored", "--work", str(work)])
    assert code == 2 and fake_runs == [] and not work.exists()
    assert "cell 'empty,memory=stored'" in capsys.readouterr().err


@pytest.mark.parametrize("option", [["--budget", "0"], ["--seeds", "0"]])
def test_zero_budget_or_seeds_is_refused_by_the_parser(tmp_path, fake_runs, option):
    with pytest.raises(SystemExit) as exit_:
        benchmarks.main(["ablation", "--work", str(tmp_path / "w"), *option])
    assert exit_.value.code == 2 and fake_runs == []


def test_resume_runs_only_what_has_no_result_file(tmp_path, fake_runs):
    argv = ["ablation", "--cells", "srmt", "empty", "--rewards", "sparse", "--seeds", "2", "--budget", "5000",
            "--work", str(tmp_path)]
    assert benchmarks.main(argv) == 0
    assert fake_runs == ["sparse-srmt-seed0", "sparse-empty-seed0", "sparse-srmt-seed1", "sparse-empty-seed1"]
    (tmp_path / "results" / "sparse-empty-seed0.json").unlink()
    fake_runs.clear()
    assert benchmarks.main(argv) == 0
    assert fake_runs == ["sparse-empty-seed0"]
    fake_runs.clear()
    assert benchmarks.main([*argv, "--summary-only"]) == 0 and fake_runs == []
    assert benchmarks.main([*argv[:-4], "--budget", "6000", "--work", str(tmp_path)]) == 2  # another budget
    assert fake_runs == []


def test_aggregation_is_the_mean_and_t_interval_over_seeds(tmp_path):
    records = []
    for seed, csr in enumerate([0.5, 0.75, 1.0]):
        job = ab.Job(ab.Run("sparse", ab.parse_cell("srmt"), seed), 5000, str(tmp_path))
        records.append(fake_record(job, csr))
    records.append(fake_record(ab.Job(ab.Run("sparse", ab.parse_cell("empty"), 0), 5000, str(tmp_path))))
    srmt, empty = ab.summarise(records)
    # a run's CSR is the mean over its lengths: (csr + 0) / 2 = 0.25, 0.375, 0.5 -> mean 0.375, sd 0.125,
    # t(2 dof) 4.303: half width 4.303 * 0.125 / sqrt(3) = 0.31054
    assert (srmt["cell"], srmt["runs"], srmt["seeds"]) == ("srmt", 3, [0, 1, 2])
    assert srmt["CSR"] == {"mean": 0.375, "lo": round(0.375 - 0.31054, 4), "hi": round(0.375 + 0.31054, 4)}
    assert srmt["CSR_short"]["mean"] == 0.75 and srmt["CSR_long"] == {"mean": 0.0, "lo": 0.0, "hi": 0.0}
    assert srmt["SoC"]["mean"] == 155.0 and srmt["ISR"]["mean"] == 0.75
    half = 4.303 * 1000 / math.sqrt(3)  # steps 1000, 2000, 3000: sd 1000
    assert srmt["steps_to_csr90"] == {"reached": 3, "mean": 2000.0, "lo": round(2000 - half, 4),
                                      "hi": round(2000 + half, 4)}
    assert srmt["per_length_csr"] == {"3": 0.75, "100": 0.0}
    assert empty["CSR"] == {"mean": 0.5, "lo": None, "hi": None}  # one seed: no interval


def test_steps_to_target_from_the_logged_training_csr(tmp_path):
    from tensorboardX import SummaryWriter

    writer = SummaryWriter(str(tmp_path / ".summary" / "0"))
    for step, csr in [(4096, 0.1), (8192, 0.95), (12288, 0.85), (16384, 0.99)]:
        writer.add_scalar("metrics/CSR", csr, step)
    writer.add_scalar("reward/reward", 1.0, 4096)
    writer.close()
    curve = ab.csr_curve(tmp_path)
    assert [s for s, _ in curve] == [4096, 8192, 12288, 16384]
    assert ab.steps_to(curve) == 8192 and ab.steps_to(curve, 0.995) is None


def test_out_writes_the_summary_and_the_figure(tmp_path, fake_runs):
    out = tmp_path / "ablation.json"
    argv = ["ablation", "--cells", "srmt", "gru", "--rewards", "sparse", "dense", "--seeds", "2",
            "--work", str(tmp_path / "w"), "--out", str(out)]
    assert benchmarks.main(argv) == 0
    saved = json.loads(out.read_text())
    assert saved["figures"]["planned"] == saved["figures"]["finished"] == 8
    assert [(c["reward"], c["cell"], c["runs"]) for c in saved["figures"]["summary"]] == [
        ("sparse", "srmt", 2), ("sparse", "gru", 2), ("dense", "srmt", 2), ("dense", "gru", 2)]
    assert "8 of 8 runs" in saved["title"] and "sparse srmt (2 seeds): CSR 0.500" in saved["summary"]
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
    rows = out.with_suffix(".md").read_text().splitlines()
    assert rows[4] == ("| sparse | srmt | 2 | 0.500 [0.500, 0.500] | 1.000 [1.000, 1.000] | 0.000 [0.000, 0.000] | "
                       "0.750 [0.750, 0.750] | 155.0 [155.0, 155.0] | 2/2: 1500 [-4853, 7853] |")


@pytest.mark.slow  # starts a dask cluster (in this process); the faked run_one travels to it pickled
def test_runs_spread_over_a_dask_cluster_write_the_same_result_files(tmp_path, fake_runs):
    distributed = pytest.importorskip("distributed")
    argv = ["ablation", "--cells", "srmt", "empty", "--rewards", "sparse", "--seeds", "2", "--work", str(tmp_path)]
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        assert benchmarks.main([*argv, "--engine", "dask", "--scheduler", cluster.scheduler_address]) == 0
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == [
        "sparse-empty-seed0.json", "sparse-empty-seed1.json", "sparse-srmt-seed0.json", "sparse-srmt-seed1.json"]
    assert json.loads((tmp_path / "results" / "sparse-srmt-seed1.json").read_text())["steps_to_csr90"] == 2000
    assert benchmarks.main([*argv, "--parallel", "2", "--engine", "dask"]) == 2  # refused: --scheduler missing
