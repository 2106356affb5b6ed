"""`pln123 simulate` end to end: a small two-site surge against the test Redis."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import redis

pytestmark = pytest.mark.redis

SCENARIO = """
name: two-sites
duration_h: 1
seed: 11
focus_region: palembang
skills: {general: {share: 1.0}}
handle_time: {distribution: exponential, mean_s: 180}
callers:
  patience: {distribution: exponential, mean_s: 120}
  redial: {probability: 0.5}
  callback: {accept: 0.3}
surges:
  - {region: palembang, from_h: 0, to_h: 1, factor: 2}
sites:
  palembang: {roster: [{count: 8, skills: {general: 8}}]}
  jakarta: {role: hub, roster: [{count: 12, skills: {general: 8}}]}
traffic:
  palembang: {"0711": 2400}
  jakarta: {"021": 2400}
pooling: {reserve: 0, trunk_limit: 30}
"""

LAST = re.compile(r"^sl_isolated=(\d\.\d{3}) sl_pln123=(\d\.\d{3}) sl_pooled_bound=(\d\.\d{3}) "
                  r"abandon_isolated=(\d\.\d{3}) abandon_pln123=(\d\.\d{3}) "
                  r"answered_isolated=(\d+) answered_pln123=(\d+) "
                  r"national_sl_isolated=(\d\.\d{3}) national_sl_pln123=(\d\.\d{3}) "
                  r"national_sl_pooled_bound=(\d\.\d{3}) receivers_min_sl_delta=(-?\d+\.\d)$")


def _simulate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pln123.cli.main", "simulate", *args],
                          capture_output=True, text=True, timeout=240, check=False)


@pytest.mark.parametrize("mode", [["--one-process"], ["--parallel"]],
                         ids=["one-process", "parallel"])
def test_simulate_prints_the_table_and_the_last_line_and_cleans_up(
        tmp_path: Path, fresh_redis, mode: list[str]) -> None:
    scenario = tmp_path / "two.yaml"
    scenario.write_text(SCENARIO)
    out = tmp_path / "out"
    done = _simulate("--scenario", str(scenario), "--redis-url", fresh_redis.url,
                     "--out", str(out), "--hours", "0.75", *mode)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    match = LAST.match(lines[-1])
    assert match, lines[-1]
    (sl_isolated, sl_pln123, _bound, abandon_isolated, abandon_pln123, answered_isolated,
     answered_pln123, national_isolated, national_pln123, _national_bound,
     _receivers) = map(float, match.groups())
    rows = {tuple(line.split()[:2]): line.split() for line in lines
            if line.split()[:1] in (["palembang"], ["jakarta"])}
    assert int(rows[("palembang", "pln123")][-3]) > 0      # pooled in: answered by jakarta
    assert int(rows[("jakarta", "pln123")][-2]) > 0        # pooled out: jakarta lent
    assert int(rows[("palembang", "isolated")][-3]) == 0
    assert sl_pln123 > sl_isolated and abandon_pln123 < abandon_isolated
    assert answered_pln123 >= answered_isolated and national_pln123 >= national_isolated
    assert ("national", "pln123") in {tuple(line.split()[:2]) for line in lines}
    for name in ("waiting.png", "service_level.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "100%" in done.stderr                          # the progress bar
    client = redis.Redis.from_url(fresh_redis.url)
    try:
        assert client.dbsize() == 0                         # every key of the run deleted
    finally:
        client.close()


def test_several_seeds_print_each_seed_the_spreads_and_the_means_last(
        tmp_path: Path, fresh_redis) -> None:
    scenario = tmp_path / "two.yaml"
    scenario.write_text(SCENARIO)
    out = tmp_path / "out"
    done = _simulate("--scenario", str(scenario), "--redis-url", fresh_redis.url,
                     "--out", str(out), "--hours", "0.25", "--seeds", "2", "--seed", "40")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    per_seed = {line.split()[0]: LAST.match(line.split(" ", 1)[1]) for line in lines
                if line.startswith("seed=")}
    assert set(per_seed) == {"seed=40", "seed=41"} and all(per_seed.values())
    assert "2 seeds: 40, 41" in lines
    means = LAST.match(lines[-1])
    assert means, lines[-1]
    sl_means = [float(m.group(2)) for m in per_seed.values() if m]
    assert float(means.group(2)) == pytest.approx(sum(sl_means) / 2, abs=0.0011)
    table = {line.split()[0]: line.split() for line in lines
             if line.startswith(("sl_pln123_palembang", "abandon_isolated_jakarta"))}
    assert set(table) == {"sl_pln123_palembang", "abandon_isolated_jakarta"}
    assert table["sl_pln123_palembang"][-1] == "2"          # both seeds gave it
    assert "seed 40" in done.stderr and "seed 41" in done.stderr and "100%" in done.stderr
    assert (out / "table.txt").read_text().splitlines()[-1] == lines[-1]
    client = redis.Redis.from_url(fresh_redis.url)
    try:
        assert client.dbsize() == 0
    finally:
        client.close()


def test_a_bad_scenario_names_the_key_path(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text(SCENARIO.replace("count: 8", "count: -1"))
    done = _simulate("--scenario", str(scenario))
    assert done.returncode == 2
    assert "sites.palembang.roster[0].count: must be between 0 and 2000, not -1" in done.stderr


def test_every_problem_of_a_bad_scenario_is_one_line(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text(SCENARIO.replace("count: 8", "count: -1")
                        .replace("trunk_limit: 30", "trunk_limt: 30"))
    done = _simulate("--scenario", str(scenario))
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"pln123 simulate: {scenario}: pooling.trunk_limt: unknown key",
        f"pln123 simulate: {scenario}: sites.palembang.roster[0].count: "
        "must be between 0 and 2000, not -1",
    ]


def test_a_duplicate_key_names_its_line(tmp_path: Path) -> None:
    scenario = tmp_path / "twice.yaml"
    scenario.write_text(SCENARIO + "seed: 12\n")
    done = _simulate("--scenario", str(scenario))
    assert done.returncode == 2
    assert "duplicate key 'seed' (first at line 4)" in done.stderr


def test_more_seeds_than_processes_each_get_a_fresh_process(fresh_redis) -> None:
    # One process for three seeds: each seed needs a process of its own (a reactor is
    # installed once per process), so the pool must not hand a finished worker the next.
    from dataclasses import replace

    import yaml

    from tools.simulation.scenario import parse_scenario
    from tools.simulation.seeds import run_seeds

    scenario = replace(parse_scenario(yaml.safe_load(SCENARIO)), duration_h=0.25)
    results = run_seeds(scenario, fresh_redis.url, [40, 41, 42], time_step_s=0.0, jobs=1,
                        progress=False)
    assert sorted(results) == [40, 41, 42]
