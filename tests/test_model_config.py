"""ModelConfig presets and validation; parameter counts against the reference sizes."""

import dataclasses

import pytest

from srmt.config import ModelConfig
from srmt.model import SRMTPolicy
from cli.main import main as srmt
from srmt.params import count_parameters


def test_presets_have_the_published_sizes():
    b = ModelConfig.preset("bottleneck")
    assert (b.hidden, b.heads, b.blocks, b.resnet_blocks, b.filters, b.obs_radius, b.history) \
        == (16, 4, 1, 1, 8, 2, 8)
    lifelong = ModelConfig.preset("lifelong")
    assert (lifelong.hidden, lifelong.heads, lifelong.blocks, lifelong.resnet_blocks,
            lifelong.filters, lifelong.obs_radius, lifelong.history) == (512, 8, 1, 8, 64, 5, 8)
    assert (b.obs_size, lifelong.obs_size) == (5, 11)
    assert b.variant == "srmt" and b.attention_mask == "causal" and b.num_actions == 5


def test_preset_overrides_and_dict_round_trip():
    cfg = ModelConfig.preset("lifelong", variant="rmt", attention_mask="full")
    assert cfg.variant == "rmt" and cfg.hidden == 512
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        ModelConfig().hidden = 32


@pytest.mark.parametrize("overrides, field", [
    (dict(variant="transformer"), "variant"),
    (dict(attention_mask="bidirectional"), "attention_mask"),
    (dict(hidden=0), "hidden"),
    (dict(heads=0), "heads"),
    (dict(blocks=0), "blocks"),
    (dict(resnet_blocks=-1), "resnet_blocks"),
    (dict(filters=0), "filters"),
    (dict(obs_radius=-1), "obs_radius"),
    (dict(history=-1), "history"),
    (dict(num_actions=0), "num_actions"),
    (dict(gru_hidden=0), "gru_hidden"),
    (dict(hidden=2.5), "hidden"),
    (dict(hidden=True), "hidden"),
    (dict(hidden=18, heads=4), "hidden=18 must be divisible by heads=4"),
])
def test_bad_values_raise_value_error_naming_the_field(overrides, field):
    with pytest.raises(ValueError, match=field):
        ModelConfig(**overrides)


def test_error_lists_allowed_values_and_every_violation():
    with pytest.raises(ValueError, match=r"variant='x' is not one of \('srmt'.*filters=0"):
        ModelConfig(variant="x", filters=0)


def test_heads_need_not_divide_hidden_without_attention():
    assert ModelConfig(variant="gru", hidden=18, heads=4).hidden == 18


def test_unknown_keys_and_presets_are_rejected():
    with pytest.raises(ValueError, match=r"unknown ModelConfig key\(s\) \['hiden'\]"):
        ModelConfig.from_dict({"hiden": 16})
    with pytest.raises(ValueError, match=r"unknown ModelConfig key\(s\) \['hiden'\]"):
        ModelConfig.preset("bottleneck", hiden=16)
    with pytest.raises(ValueError, match="preset='warehouse' is not one of"):
        ModelConfig.preset("warehouse")


def test_bottleneck_srmt_parameter_count_matches_the_reference_figure():
    # encoder: conv 3->8 (224) + resblock 2x conv 8->8 (1168) + linear 200->16 (3216) = 4608
    # block: ln_1 32 + attn 816+272 + ln_cross 32 + cross 272+544+272 + ln_2 32 + mlp 1088+1040
    # = 4400; ln_f 32; memory head 256; policy 85; value 17 -> 9398 (~9.4k); positions 10x16.
    counts = count_parameters(SRMTPolicy(ModelConfig.preset("bottleneck")))
    assert counts == {
        "total": 9558, "position_table": 160, "without_position_table": 9398,
        "encoder": 4608, "core": 4848, "policy_head": 85, "value_head": 17,
        "core.wpe": 160, "core.blocks": 4400, "core.ln_f": 32, "core.memory_head": 256,
    }


# From the srmt count above: rmt drops the cross-attention (ln 32 + 272 + 544 + 272): 9558 - 1120;
# attention also drops the memory head (256) and the memory token's position (16): 9558 - 1120 - 256 - 16;
# empty is encoder + heads, 4608 + 85 + 17; gru adds GRUCell(16 -> 16), 3 x (16x16 + 16x16 + 16 + 16) = 1632.
@pytest.mark.parametrize("variant, total, positions", [
    ("srmt", 9558, 160), ("rmt", 8438, 160), ("attention", 8166, 144),
    ("empty", 4710, 0), ("gru", 6342, 0),
])
def test_ablation_parameter_counts(variant, total, positions):
    counts = count_parameters(SRMTPolicy(ModelConfig.preset("bottleneck", variant=variant)))
    assert (counts["total"], counts["position_table"]) == (total, positions)


def test_lifelong_parameter_count():
    # by hand, hidden 512, 64 filters, 8 resblocks, 11x11 window:
    # encoder: conv 3->64 (1,792) + 16 convs 64->64 (16 x 36,928) + linear 7744->512 (3,965,440) = 4,558,080
    # block: ln 3 x 1,024 + attn 787,968 + 262,656 + cross 262,656 + 525,312 + 262,656
    #        + mlp 1,050,624 + 1,049,088 = 4,204,032
    # + ln_f 1,024 + memory head 262,144 + policy 2,565 + value 513 -> 9,028,358; positions 10x512
    counts = count_parameters(SRMTPolicy(ModelConfig.preset("lifelong")))
    assert counts["without_position_table"] == 9_028_358
    assert counts["position_table"] == 10 * 512
    assert counts["encoder"] == 4_558_080


def test_params_command_prints_counts(capsys):
    srmt(["params", "--preset", "bottleneck", "--variant", "srmt"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "preset=bottleneck variant=srmt"
    assert "without_position_table" in lines[3] and lines[3].endswith("9,398")



def test_saved_format_versions_say_what_a_missing_memory_meant():
    from srmt.config import SAVED_VERSION, upgrade_saved

    assert ModelConfig.from_dict({}).memory == ModelConfig().memory == "learned"  # one default
    assert ModelConfig.from_dict(upgrade_saved({}, 1)).memory == "stored"  # saved before the field existed
    assert ModelConfig.from_dict(upgrade_saved({"memory": "learned"}, 1)).memory == "learned"
    assert ModelConfig.from_dict(upgrade_saved({}, SAVED_VERSION)).memory == "learned"
    with pytest.raises(ValueError, match="format version 3 is not one of 1..2"):
        upgrade_saved({}, 3)
