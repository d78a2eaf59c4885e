"""The shipped lifelong policy's committed Mazes records are reproduced exactly by today's code: the
attention-recording hook, the memory interventions and the local pool are off by default and change
nothing (docs/results/lifelong/srmt/mazes, measured before they existed)."""
import json
from pathlib import Path

from eval.evaluate import evaluate
from eval.runner import AgentSpec

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "docs" / "results" / "lifelong" / "srmt" / "mazes" / "episodes.jsonl"


def committed(map_name: str, agents: int) -> dict:
    for line in RECORDS.read_text().splitlines():
        record = json.loads(line)
        grid = record["env_grid_search"]
        if grid["map_name"] == map_name and grid["num_agents"] == agents and grid["seed"] == 0:
            return record["metrics"]
    raise AssertionError(f"no committed record for {map_name} with {agents} agents")


def test_shipped_lifelong_episode_is_bit_identical(tmp_path):
    spec = AgentSpec(checkpoint=str(ROOT / "agents" / "pretrained" / "lifelong_srmt.pt"), lifelong=True)
    evaluate("mazes", spec=spec, maps="validation-mazes-seed-000", agents=[8], out_dir=tmp_path,
             workers=1, compare=None, progress=False, backend="torch")
    (ours,) = [json.loads(line)["metrics"] for line in (tmp_path / "episodes.jsonl").read_text().splitlines()]
    theirs = committed("validation-mazes-seed-000", 8)
    for metric in ("avg_throughput", "ep_length", "avg_agents_density"):
        assert ours[metric] == theirs[metric], metric
