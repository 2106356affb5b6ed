"""The sandbox Asterisk plays the built prompts, from the folder of the channel's language.

Each playback is an AMI Originate of a Local channel whose first half runs
`Playback(<files>)` with `CHANNEL(language)` set; the other half answers in `[test-answer]`.
Playback sets PLAYBACKSTATUS (a VarSet event for the admin user) to SUCCESS or FAILED,
and Asterisk's log says which file it opened or that it "does not exist in any format".
"""

from __future__ import annotations

import time
from pathlib import Path

from ivr.prompts.numbers import fragment_file, say_number, say_time
from ivr.sandbox import Instance, RawAmi
from tests.fixtures.asterisk_sandbox import SandboxSession

PLAY_TIMEOUT_S = 30.0


def play(site: Instance, requests: list[tuple[str, list[str]]]) -> list[str]:
    """Play each (language, files) side by side; their PLAYBACKSTATUS values, in order."""
    ami: RawAmi
    with site.ami() as ami:
        ids = []
        for index, (language, files) in enumerate(requests):
            uid = f"pln-prompt-{time.time_ns()}-{index}"
            response = ami.action("Originate", {
                "Channel": "Local/play@test-answer",
                "Application": "Playback",
                "Data": "&".join(files),
                "Variable": f"CHANNEL(language)={language}",
                "ChannelId": uid,
                "Async": "true",
                "Timeout": "5000",
            })
            assert response.get("Response") == "Success", response
            ids.append(uid)
        status: dict[str, str] = {}
        deadline = time.monotonic() + PLAY_TIMEOUT_S
        while len(status) < len(ids):
            left = deadline - time.monotonic()
            assert left > 0, f"no PLAYBACKSTATUS for {set(ids) - set(status)}"
            event = ami.wait_event("VarSet", left, Variable="PLAYBACKSTATUS")
            if event.get("Uniqueid") in ids:
                status[event["Uniqueid"]] = event.get("Value", "")
    return [status[uid] for uid in ids]


def log_since(path: Path, offset: int) -> str:
    with path.open("rb") as log:
        log.seek(offset)
        return log.read().decode("utf-8", "replace")


def log_size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def prompts_installed(session: SandboxSession) -> None:
    prompts = session.sandbox.prompts
    assert prompts is not None and {"id", "en"} <= set(prompts.installed), (
        "the sandbox did not install the prompts: "
        + "; ".join(prompts.warnings if prompts else ["up() never ran"])
    )


def test_welcome_plays_in_indonesian_and_english(
    asterisk_sandbox: SandboxSession, asterisk_site: Instance
) -> None:
    prompts_installed(asterisk_sandbox)
    offset = log_size(asterisk_site.messages_log)
    welcome = fragment_file("welcome")
    assert play(asterisk_site, [("id", [welcome]), ("en", [welcome])]) == ["SUCCESS", "SUCCESS"]
    log = log_since(asterisk_site.messages_log, offset)
    assert "Playing 'pln123/welcome.slin' (language 'id')" in log
    assert "Playing 'pln123/welcome.slin' (language 'en')" in log
    assert "does not exist" not in log


def test_the_channel_language_picks_the_folder_and_numbers_play(
    asterisk_sandbox: SandboxSession, asterisk_site: Instance
) -> None:
    prompts_installed(asterisk_sandbox)
    offset = log_size(asterisk_site.messages_log)
    twenty_one = [fragment_file(f) for f in say_number(21, "id")]  # dua puluh satu
    five_past = [fragment_file(f) for f in say_time(18, 5, "en")]  # eighteen oh five
    teen = [fragment_file("num-teen")]  # "belas": an Indonesian-only fragment
    statuses = play(asterisk_site, [("id", twenty_one), ("en", five_past), ("id", teen),
                                    ("en", teen)])
    assert statuses == ["SUCCESS", "SUCCESS", "SUCCESS", "FAILED"]
    log = log_since(asterisk_site.messages_log, offset)
    assert "Playing 'pln123/num-x10.slin' (language 'id')" in log
    assert "Playing 'pln123/time-oh.slin' (language 'en')" in log
    # The one failure is the one we asked for, and Asterisk says so in its log.
    missing = [line for line in log.splitlines() if "does not exist" in line]
    assert len(missing) == 1 and "File pln123/num-teen does not exist in any format" in missing[0]
