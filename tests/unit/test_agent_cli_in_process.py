"""`pln123 agent` refuses bad input before Redis is touched, so these cases run in-process
through `main` (the verbs against a real Redis: tests/integration/cli/test_agent_cli.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.dialplan.features import AgentCommand, BadAgentCommand
from pln123.cli.agent import find_agent, stream_fields, stream_key
from pln123.cli.main import main
from pln123.config import load_config

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "config" / "pln.yaml"


def test_an_unknown_agent_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["agent", "logout", "4321", "--config", str(CONFIG)]) == 2
    assert capsys.readouterr().err == (f"pln123 agent: no agent '4321' in the roster of "
                                       f"{CONFIG} (38 agents; see its agents:)\n")


def test_an_invalid_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "pln.yaml"
    bad.write_text(CONFIG.read_text(encoding="utf-8").replace(
        'endpoint: PJSIP/1001,', 'endpoint: "PJSIP/1001&PJSIP/1002",'), encoding="utf-8")
    (tmp_path / "secrets").symlink_to(CONFIG.parent / "secrets")
    assert main(["agent", "login", "1001", "--config", str(bad)]) == 2
    assert f"{bad}: agents[0].endpoint: 'PJSIP/1001&PJSIP/1002' is not" in capsys.readouterr().err


def test_the_contract_helpers() -> None:
    config = load_config(CONFIG)
    # The stream is in the site's pool's slot: the config's pooling names the pool.
    assert stream_key("makassar", config.acd.pooling) == "acd:{national}:makassar:agent-commands"
    assert stream_fields(AgentCommand("pause", "5001", "9"), 1732761234.5) == {
        "agent": "5001", "action": "pause", "reason": "9", "at": "1732761234.500",
        "source": "cli"}
    assert find_agent(config, "5004").site == "makassar"
    with pytest.raises(BadAgentCommand, match="no agent '5005'"):
        find_agent(config, "5005")
