"""`pln123 simulate --seeds N`: the figures' means and spreads over the seeds' runs."""

from __future__ import annotations

import math
import re

import pytest

from tools.simulation.report import LAST_LINE, format_value
from tools.simulation.seeds import Spread, aggregate, mean_line, seeds_from, spread_table

RUNS = [
    {"sl_isolated": 0.80, "sl_pln123": 0.90, "answered_pln123": 100, "abandon_pln123": None},
    {"sl_isolated": 0.70, "sl_pln123": 0.94, "answered_pln123": 103, "abandon_pln123": None},
    {"sl_isolated": 0.75, "sl_pln123": 0.92, "answered_pln123": 104,
     "abandon_pln123": 0.05},
]


def test_each_figure_has_its_mean_sample_sd_and_range() -> None:
    spreads = aggregate(RUNS)
    sl = spreads["sl_isolated"]
    assert sl is not None
    assert sl.mean == pytest.approx(0.75)
    assert sl.sd == pytest.approx(0.05)      # sample sd: sqrt((0.05² + 0.05² + 0) / 2)
    assert (sl.low, sl.high, sl.n) == (0.70, 0.80, 3)
    answered = spreads["answered_pln123"]
    assert answered is not None and answered.mean == pytest.approx(307 / 3)


def test_a_figure_some_seeds_did_not_give_counts_only_the_others() -> None:
    spreads = aggregate(RUNS)
    assert spreads["abandon_pln123"] == Spread(0.05, 0.0, 0.05, 0.05, 1)
    assert aggregate([{"sl_pln123": None}, {"sl_pln123": math.nan}]) == {"sl_pln123": None}


def test_the_figures_keep_the_first_runs_order() -> None:
    assert list(aggregate(RUNS)) == ["sl_isolated", "sl_pln123", "answered_pln123",
                                     "abandon_pln123"]


def test_the_last_line_holds_the_means_in_the_single_runs_form() -> None:
    line = mean_line(aggregate(RUNS))
    values = dict(part.split("=") for part in line.split())
    assert list(values) == list(LAST_LINE)
    assert values["sl_isolated"] == "0.750"
    assert values["sl_pln123"] == "0.920"
    assert values["answered_pln123"] == "102"          # a mean of counts, rounded
    assert values["answered_isolated"] == "nan"        # no run gave it
    assert re.fullmatch(r"(\w+=(nan|-?\d+(\.\d+)?) ?)+", line)


def test_format_value_rounds_only_means_of_counts() -> None:
    assert format_value("answered_pln123", 102.7) == "102"
    assert format_value("answered_pln123", 102.7, mean=True) == "103"
    assert format_value("receivers_min_sl_delta", -2.345) == "-2.3"
    assert format_value("sl_pln123", None) == "nan"


def test_the_table_names_the_seeds_and_each_figure() -> None:
    text = spread_table(aggregate(RUNS), [7, 8, 9])
    lines = text.splitlines()
    assert lines[0] == "3 seeds: 7, 8, 9"
    row = next(line.split() for line in lines if line.startswith("sl_isolated"))
    assert row == ["sl_isolated", "0.750", "0.050", "0.700", "0.800", "3"]
    assert next(line for line in lines if line.startswith("answered_pln123")).split()[2] \
        == "2.1"


def test_seeds_follow_the_first() -> None:
    assert seeds_from(2018, 3) == [2018, 2019, 2020]
    with pytest.raises(ValueError):
        seeds_from(1, 0)
