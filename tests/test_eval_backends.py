"""`srmt eval --backend torch` plays the same episodes as the pogema reference, record for record."""
from __future__ import annotations

import pytest
import torch

from eval.evaluate import evaluate
from eval.runner import AgentSpec
from eval.suites import EvalError
from srmt.checkpoint import save_policy
from srmt.config import ModelConfig
from srmt.model import SRMTPolicy

pytestmark = pytest.mark.usefixtures("no_plot")  # no test here reads plot.png


def _metrics(result) -> dict:
    return {(r["env_grid_search"]["map_name"], r["env_grid_search"]["num_agents"], r["env_grid_search"]["seed"]):
            {k: v for k, v in r["metrics"].items() if k != "runtime"} for r in result.records}


@pytest.mark.slow
@pytest.mark.parametrize("suite, spec_kw, select", [
    ("validation", dict(sample=True), dict(maps="lifelong-validation-(wallmaze|random)-001", agents=[16, 32])),
    ("bottleneck", dict(algo="greedy"), dict(maps="bottleneck-(3|10)", seeds=[0, 1])),
])
def test_torch_backend_gives_the_pogema_records(tmp_path, suite, spec_kw, select):
    if "algo" not in spec_kw:
        torch.manual_seed(0)
        cfg = ModelConfig.preset("lifelong", hidden=16, heads=4, filters=4, resnet_blocks=0)
        env = {"on_target": "restart", "obs_radius": 5}
        spec_kw = dict(spec_kw, checkpoint=str(save_policy(tmp_path / "p.pt", SRMTPolicy(cfg), cfg, env, {})))
    results = {backend: evaluate(suite, spec=AgentSpec(**spec_kw), out_dir=tmp_path / backend, workers=1,
                                 progress=False, backend=backend, **select)
               for backend in ("pogema", "torch")}
    assert len(results["torch"].records) == len(results["pogema"].records) >= 4
    assert _metrics(results["torch"]) == _metrics(results["pogema"])


def test_unknown_backend_is_refused(tmp_path):
    with pytest.raises(EvalError, match="--backend 'jax' is not one of"):
        evaluate("bottleneck", spec=AgentSpec("greedy"), out_dir=tmp_path / "o", quick=True, workers=1,
                 progress=False, backend="jax")
