"""srmt.checkpoint: policy files round-trip, and every bad file gives a clear CheckpointError."""
import zipfile

import pytest
import torch

from srmt.checkpoint import FORMAT_VERSION, CheckpointError, load_policy, read_policy_file, save_policy
from srmt.config import ModelConfig
from srmt.model import SRMTPolicy

CFG = ModelConfig.preset("bottleneck")


@pytest.fixture
def policy_file(tmp_path):
    torch.manual_seed(0)
    model = SRMTPolicy(CFG)
    path = save_policy(tmp_path / "sub" / "policy.pt", model, CFG, {"map_name": "bottleneck-8", "obs_radius": 2},
                       {"env_steps": 123, "reward": "sparse", "lengths": [3, 4]})
    return path, model


def test_round_trip_gives_the_same_model(policy_file):
    path, model = policy_file
    loaded = load_policy(path)
    assert loaded.model_config == CFG
    assert loaded.env_config == {"map_name": "bottleneck-8", "obs_radius": 2}
    assert loaded.meta == {"env_steps": 123, "reward": "sparse", "lengths": [3, 4]}
    assert not loaded.model.training
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, loaded.model.state_dict()[name]), name
    obs = torch.randn(4, 3, 5, 5)
    state = model.initial_state(2, 4)
    with torch.no_grad():
        a = model.eval()(obs, state, 2)
        b = loaded.model(obs, state, 2)
    for x, y in zip(a, b):
        assert torch.equal(x, y)


def test_file_holds_only_plain_types(policy_file):
    path, _ = policy_file
    payload = torch.load(path, weights_only=True)
    assert set(payload) == {"format", "format_version", "model_config", "env_config", "meta", "state_dict"}
    assert payload["format_version"] == FORMAT_VERSION
    assert not list(path.parent.glob(".*.tmp"))  # atomic write leaves no temporary file


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_policy(tmp_path / "nope.pt")


def test_corrupt_file(tmp_path):
    path = tmp_path / "garbage.pt"
    path.write_bytes(b"this is not a checkpoint" * 10)
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_policy(path)


def test_truncated_file(policy_file, tmp_path):
    path, _ = policy_file
    cut = tmp_path / "cut.pt"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_policy(cut)


def test_damaged_member_inside_a_zip(policy_file, tmp_path):
    path, _ = policy_file
    bad = tmp_path / "bad.pt"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.endswith("data.pkl"):
                data = data[: len(data) // 2]
            dst.writestr(item, data)
    with pytest.raises(CheckpointError, match="corrupt or truncated|not a srmt policy"):
        load_policy(bad)


def test_bare_state_dict_is_not_a_policy_file(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save(SRMTPolicy(CFG).state_dict(), path)
    with pytest.raises(CheckpointError, match="not a srmt policy file.*bare state_dict"):
        load_policy(path)


def test_pickled_objects_are_refused(tmp_path):
    path = tmp_path / "pickled.pt"
    torch.save({"model": SRMTPolicy(CFG), "train_step": 3}, path)
    with pytest.raises(CheckpointError, match="not a srmt policy file.*Python objects"):
        load_policy(path)


def test_unsupported_format_version(policy_file, tmp_path):
    path, _ = policy_file
    payload = torch.load(path, weights_only=True)
    payload["format_version"] = 99
    newer = tmp_path / "newer.pt"
    torch.save(payload, newer)
    with pytest.raises(CheckpointError, match="format_version=99"):
        read_policy_file(newer)


def test_weights_not_matching_the_config_name_keys_and_shapes(policy_file, tmp_path):
    path, _ = policy_file
    payload = torch.load(path, weights_only=True)
    payload["model_config"]["hidden"] = 32
    payload["model_config"]["heads"] = 4
    wrong = tmp_path / "wrong.pt"
    torch.save(payload, wrong)
    with pytest.raises(CheckpointError, match=r"do not match its model_config.*shape mismatches \[core"):
        load_policy(wrong)
    payload = torch.load(path, weights_only=True)
    del payload["state_dict"]["value_head.bias"]
    torch.save(payload, wrong)
    with pytest.raises(CheckpointError, match=r"missing keys \[value_head.bias\]"):
        load_policy(wrong)


def test_non_finite_weights_are_refused_naming_the_file(policy_file, tmp_path, capsys):
    path, model = policy_file
    payload = torch.load(path, weights_only=True)
    payload["state_dict"]["value_head.bias"] = torch.full_like(payload["state_dict"]["value_head.bias"], float("nan"))
    diverged = tmp_path / "diverged.pt"
    torch.save(payload, diverged)
    with pytest.raises(CheckpointError, match=rf"checkpoint {diverged} holds non-finite weights \(NaN or inf\) "
                                              r"in \[value_head.bias\]: the training diverged"):
        load_policy(diverged)
    from cli.main import main as srmt  # eval and render load through load_policy

    for command in (["eval", "bottleneck", "--quick", "--out", str(tmp_path / "e")],
                    ["render", "--map", "bottleneck-3", "--out", str(tmp_path / "r")]):
        assert srmt([*command, "--checkpoint", str(diverged), "--no-progress"]) == 2
        assert "holds non-finite weights" in capsys.readouterr().err
    with torch.no_grad():
        model.value_head.weight.fill_(float("inf"))
    with pytest.raises(CheckpointError, match=r"the model given to save_policy holds non-finite weights"):
        save_policy(tmp_path / "never.pt", model, CFG)
    assert not (tmp_path / "never.pt").exists()


def test_config_of_another_variant_or_size(policy_file):
    path, _ = policy_file
    with pytest.raises(CheckpointError, match="another variant/size: variant='srmt' \\(expected 'rmt'\\)"):
        load_policy(path, expect={"variant": "rmt"})
    with pytest.raises(CheckpointError, match="hidden=16 \\(expected 512\\)"):
        load_policy(path, expect=ModelConfig.preset("lifelong"))
    assert load_policy(path, expect=CFG).model_config == CFG


def test_invalid_model_config(policy_file, tmp_path):
    path, _ = policy_file
    payload = torch.load(path, weights_only=True)
    payload["model_config"]["variant"] = "lstm"
    bad = tmp_path / "bad.pt"
    torch.save(payload, bad)
    with pytest.raises(CheckpointError, match="invalid model_config.*variant='lstm'"):
        load_policy(bad)


def test_save_refuses_objects_and_mismatched_configs(tmp_path):
    model = SRMTPolicy(CFG)
    with pytest.raises(CheckpointError, match=r"meta\['when'\] is a object"):
        save_policy(tmp_path / "p.pt", model, CFG, {}, {"when": object()})
    with pytest.raises(CheckpointError, match="does not describe the model: variant"):
        save_policy(tmp_path / "p.pt", model, ModelConfig.preset("bottleneck", variant="rmt"))
    assert not (tmp_path / "p.pt").exists()
