"""maps.cli: `srmt maps list|show|generate` through argparse, as the console script wires it."""

import argparse

import pytest
from PIL import Image

from maps import cli
from maps.errors import UnknownMapError
from conftest import BENCHMARK_DIR

BENCHMARK = BENCHMARK_DIR


@pytest.fixture(autouse=True)
def no_env_maps_dir(monkeypatch):
    monkeypatch.delenv("SRMT_MAPS_DIR", raising=False)


def srmt(argv: list[str]) -> int:
    """Parse like the `srmt` console script: a top-level parser with a `maps` sub-command."""
    parser = argparse.ArgumentParser(prog="srmt")
    cli.add_subparser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_list_with_pattern(capsys):
    assert srmt(["maps", "list", "--pattern", "corridor-.*|bottleneck-[34]"]) == 0
    out, err = capsys.readouterr()
    # free cells by hand: bottleneck-L has 4 x 9 room cells + L corridor cells; corridor-2x5 is 5 + 1
    assert out.splitlines() == [
        "name               size    free  collection",
        "bottleneck-3        7x9      39  bottleneck-test, bottleneck-train",
        "bottleneck-4        8x9      40  bottleneck-test, bottleneck-train",
        "corridor-1x5        1x5       5  examples",
        "corridor-2x5        2x5       6  examples",
    ]
    assert err == "4 maps\n"


def test_list_orders_numbers_by_value(capsys):
    assert srmt(["maps", "list", "--pattern", "bottleneck-(3|10|100|20)"]) == 0
    names = [line.split()[0] for line in capsys.readouterr()[0].splitlines()[1:]]
    assert names == ["bottleneck-3", "bottleneck-10", "bottleneck-20", "bottleneck-100"]


def test_list_all_via_main(capsys):
    assert cli.main(["list"]) == 0
    out, err = capsys.readouterr()
    # header + 58 bottleneck and 4 example maps + 32 validation + 128 + 128 + 1 + 128 + 16 in the five suites
    assert len(out.splitlines()) == 1 + 62 + 32 + 4 + 401
    # bottleneck-1000: 1000 + 4 rows, 36 + 1000 free cells
    assert "bottleneck-1000 1004x9 1036 bottleneck-test" in [" ".join(line.split()) for line in out.splitlines()]
    assert err == "499 maps\n"


def test_list_benchmark_dir(capsys):
    assert cli.main(["list", "--maps-dir", str(BENCHMARK), "--pattern", "wfi_.*|puzzle-00"]) == 0
    out, err = capsys.readouterr()
    # puzzle-00: 4 + 3 + 3 + 2 + 5 free cells; wfi_warehouse: counted once from its maps.yaml grid
    # (cells other than '#', the '@' / '$' markers included), not derived
    assert out.splitlines()[1:] == [
        "puzzle-00            5x5      17  05-puzzles",
        "wfi_warehouse      33x46    1278  03-warehouse",
    ]
    assert err.startswith("2 maps\nskipped YAML files that are not name -> grid collections: ")


def test_show_bottleneck_with_seed_and_png(capsys, tmp_path):
    assert srmt(["maps", "show", "bottleneck-3", "--seed", "9", "--png", str(tmp_path / "b.png")]) == 0
    out, err = capsys.readouterr()
    # the seed-9 starts and goals are sample_starts_goals(3, 9), pinned in tests/test_maps_bottleneck.py
    assert out == (
        "bottleneck-3: 7x9, 39 free cells, collection: bottleneck-test, bottleneck-train\n"
        "corridor length 3, seed 9; episode length 106 in the test set, 512 in training\n"
        "agent 0: start (0, 7) 'a' -> goal (6, 8) 'A'\n"
        "agent 1: start (6, 6) 'b' -> goal (0, 4) 'B'\n"
        "....B..a.\n"
        ".........\n"
        "####.####\n"
        "####.####\n"
        "####.####\n"
        ".........\n"
        "......b.A\n"
    )
    assert err == f"wrote {tmp_path / 'b.png'}\n"
    with Image.open(tmp_path / "b.png") as image:
        assert image.format == "PNG" and image.size == (9 * 16, 7 * 16)


def test_show_plain_map(capsys):
    assert cli.main(["show", "room-5x5"]) == 0
    assert capsys.readouterr().out == (
        "room-5x5: 5x5, 10 free cells, collection: examples\n#####\n#...#\n#....\n#...#\n#####\n")


def test_run_raises_map_errors_for_the_console_script():
    with pytest.raises(UnknownMapError, match=r"^unknown map 'nope'"):
        srmt(["maps", "show", "nope"])


def test_main_prints_errors_as_one_line_exit_2(capsys):
    assert cli.main(["show", "room-5x6"]) == 2
    assert capsys.readouterr().err.startswith("error: unknown map 'room-5x6' (close matches: room-5x5);")
    assert cli.main(["show", "open-8x8", "--seed", "1"]) == 2
    assert capsys.readouterr().err == (
        "error: --seed applies only to bottleneck maps (they sample starts and goals); drop it for 'open-8x8'\n")
    assert cli.main(["list", "--maps-dir", "/no/such/dir"]) == 2
    assert capsys.readouterr().err.startswith("error: maps directory /no/such/dir does not exist; pass --maps-dir")


@pytest.mark.slow  # end to end: a whole command or evaluation
def test_generate_check(capsys, tmp_path):
    assert srmt(["maps", "generate", "--check"]) == 0
    assert srmt(["maps", "generate", "--check", "--out-dir", str(tmp_path)]) == 1
    capsys.readouterr()
    assert srmt(["maps", "generate", "--out-dir", str(tmp_path)]) == 0
    assert srmt(["maps", "generate", "--check", "--out-dir", str(tmp_path)]) == 0


def test_subcommand_required(capsys):
    with pytest.raises(SystemExit) as exit_info:
        srmt(["maps"])
    assert exit_info.value.code == 2
    assert "the following arguments are required: {list,show,generate}" in capsys.readouterr().err
