"""Resuming an evaluation only with the settings its saved results were made with; strict JSON outputs;
lists of checkpoints (repeats, a file that does not fit); the decoding in run.json and summary.md."""
import json
import math

import pytest
import yaml

from agents import GreedyAgent
from agents.pretrained import default_policy_path
from eval.evaluate import evaluate, evaluate_checkpoints
from eval.tables import aggregate
from eval.results import make_record, to_json
from eval.runner import AgentSpec
from eval.suites import Episode, EvalError, get_suite
from maps.registry import BENCHMARK_DIR, _cached_registry, load_collection

pytestmark = pytest.mark.usefixtures("no_plot")  # no test here reads plot.png

SHIPPED = load_collection(BENCHMARK_DIR / "05-puzzles" / "maps.yaml")
WALLED = {**SHIPPED, "puzzle-00": "....#\n.....\n#.#..\n.###.\n....."}
"""The shipped Puzzles maps with other walls on puzzle-00 (same names)."""
KW = dict(maps="puzzle-00", seeds=[0], workers=1, progress=False)


def _maps_dir(root, grids):
    (root / "05-puzzles").mkdir(parents=True)
    (root / "05-puzzles" / "maps.yaml").write_text(yaml.safe_dump(grids))
    return str(root)


def _strict(text: str):
    def refuse(name):
        raise ValueError(f"not JSON: {name}")
    return json.loads(text, parse_constant=refuse)


def _saved(out):
    return {name: (out / name).read_bytes() for name in ("episodes.jsonl", "run.json")}


def test_another_maps_dir_with_the_same_map_names_is_refused(tmp_path):
    """Issue: the rerun reported the old figure, claimed the new maps-dir in run.json and, with other agent
    counts, appended episodes of the other maps to the same file."""
    out = tmp_path / "out"
    first = _maps_dir(tmp_path / "first", SHIPPED)
    evaluate("puzzles", agent=GreedyAgent(), maps_dir=first, agents=[2], out_dir=out, **KW)
    saved = _saved(out)
    other = _maps_dir(tmp_path / "other", WALLED)
    for agents in ([2], [2, 3]):
        with pytest.raises(EvalError, match=r"holds results of another evaluation, made with other settings "
                                            r"\(maps_dir: .*first' there, .*other' now; maps_sha256: .*\); "
                                            r"resuming would mix them: use another --out, or delete"):
            evaluate("puzzles", agent=GreedyAgent(), maps_dir=other, agents=agents, out_dir=out, **KW)
        assert _saved(out) == saved


def test_maps_edited_in_place_are_refused(tmp_path):
    out, root = tmp_path / "out", tmp_path / "maps"
    maps_dir = _maps_dir(root, SHIPPED)
    evaluate("puzzles", agent=GreedyAgent(), maps_dir=maps_dir, agents=[2], out_dir=out, **KW)
    (root / "05-puzzles" / "maps.yaml").write_text(yaml.safe_dump(WALLED))
    _cached_registry.cache_clear()  # a new command reads the files again
    try:
        with pytest.raises(EvalError, match=r"\(maps_sha256: '[0-9a-f]{64}' there, '[0-9a-f]{64}' now\)"):
            evaluate("puzzles", agent=GreedyAgent(), maps_dir=maps_dir, agents=[2], out_dir=out, **KW)
    finally:
        _cached_registry.cache_clear()


def test_a_subset_then_a_superset_with_the_same_settings_resumes(tmp_path):
    out = tmp_path / "out"
    evaluate("puzzles", agent=GreedyAgent(), agents=[2], out_dir=out, **KW)
    more = evaluate("puzzles", agent=GreedyAgent(), agents=[2, 3], out_dir=out, **KW)
    assert (more.ran, more.skipped) == (1, 1)
    fewer = evaluate("puzzles", agent=GreedyAgent(), agents=[3], out_dir=out, **KW)
    assert (fewer.ran, fewer.skipped) == (0, 1)


def test_a_manifest_from_before_the_maps_fingerprint_still_resumes(tmp_path):
    out = tmp_path / "out"
    evaluate("puzzles", agent=GreedyAgent(), agents=[2], out_dir=out, **KW)
    manifest = json.loads((out / "run.json").read_text())
    del manifest["maps_sha256"], manifest["decoding"], manifest["shield"]
    (out / "run.json").write_text(json.dumps(manifest))
    again = evaluate("puzzles", agent=GreedyAgent(), agents=[2], out_dir=out, **KW)
    assert (again.ran, again.skipped) == (0, 1)


def test_non_finite_numbers_are_written_as_null():
    record = make_record("X", Episode("puzzle-00", 2, 0, 256), {"avg_throughput": math.nan, "ep_length": 256}, 0.5)
    assert record["metrics"]["avg_throughput"] is None
    assert _strict(to_json({"lo": math.nan, "hi": [math.inf, -math.inf]})) == {"lo": None, "hi": [None, None]}
    # a null metric is left out of the estimates instead of failing them
    other = make_record("X", Episode("puzzle-01", 2, 0, 256), {"avg_throughput": 0.25}, 0.5)
    (row,) = [r for r in aggregate(get_suite("puzzles"), [record, other]) if r.group == 2]
    assert (row.n, row.estimate.mean) == (1, 0.25)


def test_a_checkpoint_list_on_a_lifelong_suite_writes_strict_json_once_per_file(tmp_path, capsys):
    """Issue: the same file given twice ran twice; the lifelong interval was [nan, nan], bare NaN in JSON."""
    policy = default_policy_path(lifelong=True)
    out = tmp_path / "curve"
    again = policy.parent / ".." / policy.parent.name / policy.name  # the same file, spelled otherwise
    results = evaluate_checkpoints("puzzles", [policy, again], AgentSpec(lifelong=True), out, agents=[2], **KW)
    assert len(results) == 1 and f"{again} is given more than once: evaluated once" in capsys.readouterr().err
    rows = _strict((out / "checkpoints.json").read_text())
    assert len(rows) == 1 and rows[0]["lo"] is None and rows[0]["hi"] is None  # a suite score has no interval
    assert "| 0 | lifelong_srmt.pt |" in (out / "checkpoints.md").read_text()
    assert "nan" not in (out / "checkpoints.md").read_text()
    run = out / "00-lifelong_srmt"
    for path in [*run.glob("*.json"), out / "checkpoints.json"]:
        _strict(path.read_text())
    for line in (run / "episodes.jsonl").read_text().splitlines():
        _strict(line)


def test_a_checkpoint_that_does_not_fit_the_suite_is_named(tmp_path):
    bottleneck = default_policy_path(lifelong=False)
    with pytest.raises(EvalError, match=f"^{bottleneck}: the policy was trained for Bottleneck-style"):
        evaluate_checkpoints("puzzles", [default_policy_path(lifelong=True), bottleneck], AgentSpec(lifelong=True),
                             tmp_path / "curve", **KW)
    assert not (tmp_path / "curve").exists()


def test_the_decoding_and_shield_are_in_run_json_and_the_summary(tmp_path):
    out = tmp_path / "out"
    evaluate("puzzles", spec=AgentSpec(lifelong=True), agents=[2], out_dir=out, **KW)
    manifest = json.loads((out / "run.json").read_text())
    assert (manifest["decoding"], manifest["shield"]) == ("sampled", "none")  # the shipped file recommends sample
    summary = (out / "summary.md").read_text()
    assert "SRMT: sampled actions (the policy file recommends sample), shield none" in summary
