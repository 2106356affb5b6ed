"""`pln123 loadtest --baseline app_queue` end to end, as a user runs it (a subprocess).

Ten callers go through pln123 (IVR, ACD, agents) and then, on the same sandbox, through the
Asterisk-only stack (a dialplan IVR and app_queue with the same Local agents). Every caller
must be answered by both (lost=0), and the last line must carry both stacks' CPU per call
and their ratio, (pln123 + its Asterisk) / the app_queue stack's Asterisk.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.asterisk_sandbox import unavailable_reason
from tests.fixtures.availability import skip_or_fail
from tools.sandbox import DEFAULT_CACHE_DIR
from tools.sandbox.build import root_dir

pytestmark = pytest.mark.asterisk

REPO = Path(__file__).resolve().parents[2]
NUMBER = r"(\d+\.\d+)"
LAST = re.compile(rf"cpu_ms_per_call_pln123={NUMBER} cpu_ms_per_call_asterisk={NUMBER} "
                  rf"cpu_ms_per_call_app_queue_stack={NUMBER} ratio_vs_app_queue={NUMBER} "
                  r"lost=(\d+)")
STACK = re.compile(r"app_queue stack \(.*\): offered (\d+) in \d+ s, peak concurrent \d+, "
                   r"answered (\d+), abandoned (\d+), lost (\d+);")


def test_both_stacks_answer_every_caller_and_the_cpu_is_compared() -> None:
    reason = unavailable_reason()
    if reason is not None:
        skip_or_fail(reason)
    namespace = f"pytest-baseline-{os.getpid()}"
    run = subprocess.run(
        [sys.executable, "-m", "pln123.cli.main", "loadtest", "--calls", "10", "--agents",
         "10", "--duration", "0", "--ramp", "2", "--drain", "45", "--baseline", "app_queue",
         "--namespace", namespace],
        cwd=REPO, capture_output=True, text=True, timeout=150)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    lines = run.stdout.strip().splitlines()
    assert "outcomes: answered 10" in lines, output
    stack = next((STACK.match(line) for line in lines if STACK.match(line)), None)
    assert stack is not None, output
    assert [int(n) for n in stack.groups()] == [10, 10, 0, 0], output
    last = LAST.fullmatch(lines[-1])
    assert last is not None, output
    pln123, asterisk, app_queue, ratio = (float(x) for x in last.groups()[:4])
    assert last[5] == "0"
    assert pln123 > 0 and asterisk > 0 and app_queue > 0
    assert ratio == pytest.approx((pln123 + asterisk) / app_queue, abs=0.02)
    assert not (root_dir(DEFAULT_CACHE_DIR) / "srv" / "pln123" / namespace).exists()
