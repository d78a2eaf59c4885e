"""maps.grid: parsing pogema grid strings, exact arrays and error messages."""

import numpy as np
import pytest

from maps.errors import MalformedMapError
from maps.grid import free_cells, grid_rows, grid_to_text, parse_grid


def test_parse_grid_exact_array():
    grid = parse_grid(".#.\n..#")
    assert grid.dtype == np.bool_
    assert grid.tolist() == [[False, True, False], [False, False, True]]


def test_parse_grid_strips_lines_and_outer_blank_lines():
    text = "\n\n   .#..  \n\t##..\n  \n"
    assert parse_grid(text).tolist() == [[False, True, False, False], [True, True, False, False]]


def test_pogema_markers_are_free_cells():
    assert parse_grid("@$!#").tolist() == [[False, False, False, True]]
    assert grid_rows(" @$\n!# ") == ["@$", "!#"]


def test_grid_to_text_round_trip():
    text = "..#\n#..\n.#."
    assert grid_to_text(parse_grid(text)) == text
    assert grid_to_text(parse_grid("@$\n!#")) == "..\n.#"


def test_free_cells():
    assert free_cells(parse_grid("..#\n###\n#..")) == 4
    assert free_cells([[0, 1], [0, 0]]) == 3


@pytest.mark.parametrize("text", ["", "   \n\n  \t\n"])
def test_empty_grid(text):
    with pytest.raises(MalformedMapError, match=r"^grid: grid is empty; write one line per row"):
        parse_grid(text)


def test_ragged_rows_name_row_and_lengths():
    with pytest.raises(MalformedMapError, match=r"^m: row 2 has length 2 but row 0 has length 3; every row"):
        parse_grid("...\n...\n..\n...", name="m")


def test_blank_line_inside_grid():
    with pytest.raises(MalformedMapError, match=r"row 1 is blank; remove blank lines inside the grid"):
        parse_grid("...\n\n...")


def test_unknown_character_names_char_row_col_and_allowed():
    with pytest.raises(MalformedMapError,
                       match=r"unknown character 'x' at row 1, column 2 \(0-based\); allowed: '\.' free, '#' obstacle"):
        parse_grid("...\n..x\n...")


def test_agent_letters_rejected_with_hint():
    with pytest.raises(MalformedMapError, match=r"'a' at row 0, column 0 .*pass starts and goals to the environment"):
        parse_grid("a..\n..A")


def test_no_free_cell():
    with pytest.raises(MalformedMapError, match=r"grid has no free cell \(2x3, all '#'\)"):
        parse_grid("###\n###")


def test_non_string_grid():
    with pytest.raises(MalformedMapError, match=r"a grid must be a string, got list"):
        parse_grid(["..."])


@pytest.mark.parametrize("bad", [np.zeros(3, dtype=bool), np.zeros((0, 4), dtype=bool)])
def test_obstacle_array_must_be_2d_non_empty(bad):
    with pytest.raises(MalformedMapError, match=r"obstacles must be a non-empty 2-D array"):
        grid_to_text(bad)
