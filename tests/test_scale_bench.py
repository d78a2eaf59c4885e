"""`srmt bench scaling`: maps per agent count, the phases it measures, the ratios it prints, its options."""
import pytest

from benchmarks import bench_scaling
from cli.main import main


def test_each_agent_count_gets_a_map_with_room_for_it():
    assert [bench_scaling.map_for(a) for a in (256, 1024, 2048, 4096, 16384)] == [
        "Berlin_1_256_00", "scale-warehouse-128", "scale-warehouse-128", "scale-warehouse-256", "scale-warehouse-256"]


def test_one_agent_count_measures_every_phase():
    case = bench_scaling.measure(64, 2, ["local", "global"], list(bench_scaling.PARTS), global_max=32, threads=1)
    assert case["map"] == "Berlin_1_256_00" and case["path_fields"]["bounded"] is False
    phases = {k for k, v in case.items() if isinstance(v, dict) and "us_per_agent_step" in v}
    assert phases == {"env", "policy-local", "eval-local", "pibt"}          # 64 > global_max: no global pool
    assert all(case[k]["agent_steps_per_s"] > 0 and case[k]["rss_peak_gb"] > 0 for k in phases)


def test_ratios_are_costs_over_the_smallest_count():
    cases = [{"agents": 256, "env": {"us_per_agent_step": 10.0}, "pibt": {"us_per_agent_step": 4.0}},
             {"agents": 1024, "env": {"us_per_agent_step": 15.0}}]
    assert bench_scaling.ratios(cases) == {"env": {256: 1.0, 1024: 1.5}, "pibt": {256: 1.0}}


@pytest.mark.parametrize("option", [["--agents", "0"], ["--episode-agents", "-1"], ["--plot", "."]])
def test_bad_options_are_refused_before_any_work(option, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                                            # "--plot .": a directory
    tiny = {"--agents": "8", "--steps": "1", "--episode-agents": "0", "--parts": "env"}   # if it ran anyway
    tiny.update([option])
    try:
        code = main(["bench", "scaling", *(x for pair in tiny.items() for x in pair)])
    except SystemExit as err:                                              # argparse's range check
        code = err.code
    assert code == 2 and option[0] in capsys.readouterr().err


@pytest.mark.slow  # end to end: a whole command or evaluation
def test_the_whole_episode_runs_through_srmt_eval_scale():
    episode = bench_scaling.whole_episode(32, threads=1)                   # 32 agents: seconds, not minutes
    assert (episode["agents"], episode["map"], episode["steps"]) == (32, "scale-warehouse-256", 256)
    assert episode["seconds"] > 0 and episode["avg_throughput"] >= 0 and episode["rss_peak_gb"] > 0
