"""maps.bottleneck: the SPEC section 2 maps and the seeded starts and goals."""

import pytest

from maps.bottleneck import (TEST_LENGTHS, TRAIN_EPISODE_LENGTH, TRAIN_LENGTHS, bottleneck_grid,
                             episode_length_for_test, map_name, parse_bottleneck_length,
                             room_cells, sample_starts_goals)
from maps.errors import MapError
from maps.grid import parse_grid


def test_grid_of_length_3_exact():
    assert bottleneck_grid(3) == (
        ".........\n"
        ".........\n"
        "####.####\n"
        "####.####\n"
        "####.####\n"
        ".........\n"
        "........."
    )


@pytest.mark.parametrize("length", [1, 3, 27, 1000])
def test_shape_and_corridor_only_at_column_4(length):
    grid = parse_grid(bottleneck_grid(length))
    assert grid.shape == (length + 4, 9)
    assert not grid[:2].any() and not grid[-2:].any()
    corridor = grid[2:-2]
    assert not corridor[:, 4].any()
    assert corridor[:, [0, 1, 2, 3, 5, 6, 7, 8]].all()


def test_train_and_test_sets():
    assert len(TRAIN_LENGTHS) == 16 and len(set(TRAIN_LENGTHS)) == 16
    assert [map_name(length) for length in TRAIN_LENGTHS][:3] == ["bottleneck-3", "bottleneck-4", "bottleneck-5"]
    assert len(TEST_LENGTHS) == 58  # 3..50 and 100..1000 by 100: 48 + 10
    assert TEST_LENGTHS[:2] == (3, 4) and TEST_LENGTHS[47:50] == (50, 100, 200) and TEST_LENGTHS[-1] == 1000
    assert TRAIN_EPISODE_LENGTH == 512
    assert episode_length_for_test(3) == 106 and episode_length_for_test(1000) == 2100


def test_parse_bottleneck_length():
    assert parse_bottleneck_length("bottleneck-27") == 27
    assert parse_bottleneck_length("bottleneck-1000") == 1000
    for name in ["bottleneck-0", "bottleneck-012", "bottleneck-3x", "open-8x8", "bottleneck-"]:
        assert parse_bottleneck_length(name) is None


def test_room_cells():
    assert room_cells(3, "A")[:2] == [(0, 0), (0, 1)] and len(room_cells(3, "A")) == 18
    assert room_cells(3, "B")[0] == (5, 0) and room_cells(3, "B")[-1] == (6, 8)
    with pytest.raises(MapError, match=r"room must be 'A' or 'B', got 'C'"):
        room_cells(3, "C")


def test_seed_0_pinned():
    # Regression values of numpy's default_rng(seed), drawn in the docstring's order. Seed 0 draws
    # 15 and 11 (of 18 room cells), then 8 and 4 (of 17): room A cell 15 = (1, 6), room B cell 11 =
    # (6, 2), room B without (6, 2) cell 8 = (5, 8), room A without (1, 6) cell 4 = (0, 4).
    # L = 1000 makes the same draws, with room B 997 rows lower.
    assert sample_starts_goals(3, 0) == ([(1, 6), (6, 2)], [(5, 8), (0, 4)])
    assert sample_starts_goals(1000, 0) == ([(1, 6), (1003, 2)], [(1002, 8), (0, 4)])
    assert sample_starts_goals(3, 9) == ([(0, 7), (6, 6)], [(6, 8), (0, 4)])


@pytest.mark.parametrize("length", [3, 12, 100])
def test_rooms_determinism_and_goal_never_on_other_start(length):
    room_a, room_b = set(room_cells(length, "A")), set(room_cells(length, "B"))
    for seed in range(200):
        (start0, start1), (goal0, goal1) = sample_starts_goals(length, seed)
        assert start0 in room_a and goal0 in room_b
        assert start1 in room_b and goal1 in room_a
        assert goal0 != start1 and goal1 != start0
        assert sample_starts_goals(length, seed) == ([start0, start1], [goal0, goal1])
        assert all(type(v) is int for cell in (start0, start1, goal0, goal1) for v in cell)


def test_samples_cover_the_rooms():
    starts0 = {sample_starts_goals(5, seed)[0][0] for seed in range(500)}
    assert starts0 == set(room_cells(5, "A"))


@pytest.mark.parametrize("length", [0, -1, 2.5, True, "3"])
def test_bad_length(length):
    with pytest.raises(MapError, match=r"corridor length must be an integer >= 1"):
        bottleneck_grid(length)


@pytest.mark.parametrize("seed", [-1, 1.0, None])
def test_bad_seed(seed):
    with pytest.raises(MapError, match=r"bottleneck seed must be an integer >= 0"):
        sample_starts_goals(3, seed)
