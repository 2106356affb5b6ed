"""The key layout and the score codec in acd/store/keys.py, and that nothing else spells keys.

The literal key names here are the layout as deployed: a change to any of them is a data
migration, so these tests fail on purpose when one moves.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acd.settings import PoolingSettings
from acd.store import keys
from acd.store.keys import (
    OutageKeys,
    SiteKeys,
    TicketKeys,
    queue_entry,
    queue_score,
    status_key,
    tier_entry,
    tier_score,
)
from pln123.cli.agent import stream_key
from tests.doubles.acd import T0

ROOT = Path(__file__).resolve().parents[2]
CODE = ("ivr", "acd", "pln123", "tools", "benchmarks")


def test_a_sites_keys_carry_its_pools_hash_tag() -> None:
    k = SiteKeys("palembang", "national")
    assert k.prefix == "acd:{national}:palembang:"
    assert k.pool_prefix == "acd:{national}:"
    p = k.prefix
    assert (k.live, k.agents, k.audit) == (p + "live", p + "agents", p + "audit")
    assert k.call("c1") == "acd:{national}:palembang:call:c1"
    assert k.queue("billing") == "acd:{national}:palembang:queue:billing"
    assert k.ready("billing") == "acd:{national}:palembang:ready:billing"
    assert k.tier("billing") == "acd:{national}:palembang:tier:billing"
    assert k.agent("1001") == "acd:{national}:palembang:agent:1001"
    assert k.skills("1001") == "acd:{national}:palembang:agent:1001:skills"
    assert k.interval("billing", 1_735_801_200) == p + "m:billing:1735801200"
    assert k.minute("billing", 1_735_801_260) == p + "m1:billing:1735801260"
    assert k.resume("billing", "62711555") == p + "resume:billing:62711555"
    assert k.agent_commands == "acd:{national}:palembang:agent-commands"
    assert (k.calls_pattern, k.queues_pattern, k.intervals_pattern) == (
        p + "call:*", p + "queue:*", p + "m:*")


def test_the_pooling_keys_of_a_site() -> None:
    k = SiteKeys("medan", "national")
    p = "acd:{national}:medan:"
    assert (k.lending, k.loans, k.taken, k.idle_at, k.rsl) == (
        p + "lending", p + "loans", p + "taken", p + "idle-at", p + "rsl")
    assert (k.lent, k.borrowed, k.alive, k.rings) == (
        p + "lent", p + "borrowed", p + "alive", p + "rings")
    assert k.trunk("palembang") == p + "trunk:palembang"
    with pytest.raises(ValueError):
        SiteKeys("medan", "Nation{al}")


def test_the_command_stream_is_one_key_for_the_cli_the_dashboard_and_the_consumer() -> None:
    pooling = PoolingSettings(pools={"national": ("makassar", "medan")})
    assert stream_key("makassar", pooling) == SiteKeys("makassar", "national").agent_commands
    assert stream_key("jakarta", pooling) == "acd:{jakarta}:jakarta:agent-commands"


def test_keys_between_sites() -> None:
    assert status_key("medan") == "acd:site-status:medan"


def test_the_self_service_keys_sit_under_their_prefix() -> None:
    outages, tickets = OutageKeys(), TicketKeys("staging")
    assert (outages.seq, outages.board) == ("pln:{outages}:seq", "pln:{outages}:board")
    assert (tickets.seq, tickets.stream) == ("staging:{tickets}:seq", "staging:{tickets}:stream")
    assert tickets.ticket("10000001") == "staging:{tickets}:t:10000001"
    for bad in ("", "Pln", "a{b}", "x" * 32):
        with pytest.raises(ValueError, match="key prefix"):
            OutageKeys(bad)


def test_the_scan_patterns_of_a_simulated_world_cover_its_keys() -> None:
    assert keys.patterns_starting("i3fa2-") == ("acd:{i3fa2-*", "acd:site-status:i3fa2-*")


def test_the_retention_numbers() -> None:
    assert keys.INTERVAL_KEEP_S == 2_678_400   # 31 days
    assert keys.MINUTE_KEEP_S == 1020          # 17 minutes
    assert (keys.INTERVAL_S, keys.MINUTE_S) == (900, 60)
    assert keys.MINUTE_KEEP_S > 15 * keys.MINUTE_S  # the live window fits


def test_queue_scores_order_by_priority_then_enqueue_time() -> None:
    assert queue_score(5, T0) == 5 * 10**13 + 1_735_801_200_000
    assert queue_score(1, T0 + 3600) < queue_score(5, T0) < queue_score(5, T0 + 0.001)
    assert queue_entry(float(queue_score(9, T0 + 0.125))) == (9, T0 + 0.125)


def test_tier_scores_put_the_most_skilled_first_then_the_longest_idle() -> None:
    assert tier_score(10, T0) == 1_735_801_200_000
    assert tier_score(7, T0) == 3 * 10**13 + 1_735_801_200_000
    assert tier_score(10, T0 + 3600) < tier_score(9, T0) < tier_score(9, T0 + 0.001)
    assert tier_entry(float(tier_score(3, T0 + 1.5))) == (3, T0 + 1.5)


@given(priority=st.integers(1, 9), ms=st.integers(0, 1_800_000_000_000))
def test_a_queue_score_decodes_to_what_it_encoded(priority: int, ms: int) -> None:
    score = queue_score(priority, ms / 1000)
    assert float(score) == score  # exact in the double Redis keeps
    assert queue_entry(float(score)) == (priority, round(ms / 1000, 3))


@given(level=st.integers(1, 10), ms=st.integers(0, 1_800_000_000_000))
def test_a_tier_score_decodes_to_what_it_encoded(level: int, ms: int) -> None:
    score = tier_score(level, ms / 1000)
    assert float(score) == score
    assert tier_entry(float(score)) == (level, round(ms / 1000, 3))


def _strings(path: Path) -> list[tuple[int, str]]:
    """Every string constant of a module but its docstrings (f-strings' literal parts too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docstrings]


RAW_KEY = re.compile(r"\bacd:|\{outages\}|\{tickets\}|:agent-commands|site-status")


def test_no_module_but_keys_py_spells_a_key() -> None:
    found = []
    for package in CODE:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path == ROOT / "acd" / "store" / "keys.py":
                continue
            found += [f"{path.relative_to(ROOT)}:{line}: {value!r}"
                      for line, value in _strings(path) if RAW_KEY.search(value)]
    assert found == []


def test_the_check_sees_a_spelled_key(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text('"""acd:{site}: in a docstring is prose."""\n'
                      'def f(site):\n    return f"acd:{{{site}}}:live"\n')
    assert [v for _, v in _strings(module) if RAW_KEY.search(v)] == ["acd:{"]
