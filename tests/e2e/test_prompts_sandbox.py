"""The sandbox Asterisk plays the built prompts, from the folder of the channel's language.

Each playback is an AMI Originate of a Local channel whose first half runs
`Playback(<files>)` with `CHANNEL(language)` set; the other half answers in `[test-answer]`.
Playback sets PLAYBACKSTATUS (a VarSet event for the admin user) to SUCCESS or FAILED,
and Asterisk's log says which file it opened or that it "does not exist in any format".
"""

from __future__ import annotations

import time
import wave
from pathlib import Path

from ivr.prompts.build import DEFAULT_SOUNDS_DIR, language_folder
from ivr.prompts.catalogue import SOUND_FOLDER
from ivr.prompts.numbers import fragment_file, say_number, say_time
from tests.fixtures.asterisk_sandbox import SandboxSession
from tools.sandbox import Instance, RawAmi

PLAY_TIMEOUT_S = 30.0


def play(site: Instance, requests: list[tuple[str, list[str]]]) -> list[tuple[str, float]]:
    """Play each (language, files) side by side: (PLAYBACKSTATUS, seconds taken), in order."""
    ami: RawAmi
    with site.ami() as ami:
        ids, sent = [], time.monotonic()
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
        status: dict[str, tuple[str, float]] = {}
        deadline = time.monotonic() + PLAY_TIMEOUT_S
        while len(status) < len(ids):
            left = deadline - time.monotonic()
            assert left > 0, f"no PLAYBACKSTATUS for {set(ids) - set(status)}"
            event = ami.wait_event("VarSet", left, Variable="PLAYBACKSTATUS")
            if event.get("Uniqueid") in ids:
                status[event["Uniqueid"]] = (event.get("Value", ""), time.monotonic() - sent)
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


def duration(language: str, prompt_id: str) -> float:
    with wave.open(str(language_folder(DEFAULT_SOUNDS_DIR, language) / f"{prompt_id}.wav")) as w:
        return w.getnframes() / w.getframerate()


def test_welcome_plays_in_indonesian_and_english(
    asterisk_sandbox: SandboxSession, asterisk_site: Instance
) -> None:
    prompts_installed(asterisk_sandbox)
    offset = log_size(asterisk_site.messages_log)
    welcome = f"{SOUND_FOLDER}/welcome"
    played = play(asterisk_site, [("id", [welcome]), ("en", [welcome])])
    assert [status for status, _ in played] == ["SUCCESS", "SUCCESS"]
    log = log_since(asterisk_site.messages_log, offset)
    assert "Playing 'pln123/welcome.slin' (language 'id')" in log
    assert "Playing 'pln123/welcome.slin' (language 'en')" in log
    assert "does not exist" not in log
    # Asterisk falls back to en/ when id/ lacks a file; the Indonesian welcome is seconds
    # longer than the English one, so the time it took shows which file really played.
    id_s, en_s = duration("id", "welcome"), duration("en", "welcome")
    assert id_s > en_s + 2
    assert played[0][1] >= id_s - 0.3, played
    assert en_s - 0.3 <= played[1][1] < id_s - 1, played


def test_numbers_play_from_their_fragments(
    asterisk_sandbox: SandboxSession, asterisk_site: Instance
) -> None:
    prompts_installed(asterisk_sandbox)
    offset = log_size(asterisk_site.messages_log)
    twenty_one = [fragment_file(f) for f in say_number(21, "id")]  # dua puluh satu
    five_past = [fragment_file(f) for f in say_time(18, 5, "en")]  # eighteen oh five
    played = play(asterisk_site, [("id", twenty_one), ("en", five_past)])
    assert [status for status, _ in played] == ["SUCCESS", "SUCCESS"]
    log = log_since(asterisk_site.messages_log, offset)
    for name in ("num-2", "num-x10", "num-1"):
        assert f"Playing 'pln123/{name}.slin' (language 'id')" in log
    for name in ("num-18", "time-oh", "num-5"):
        assert f"Playing 'pln123/{name}.slin' (language 'en')" in log
    assert "does not exist" not in log


def test_a_fragment_missing_in_the_channel_language_fails_loudly(
    asterisk_sandbox: SandboxSession,
) -> None:
    """Proves the "does not exist" checks above can fail: "belas" exists only in id/.

    On an instance of its own, so the warning it provokes stays out of the shared site's log.
    """
    site = asterisk_sandbox.site("prompts")
    prompts_installed(asterisk_sandbox)
    offset = log_size(site.messages_log)
    teen = [fragment_file("num-teen")]
    played = play(site, [("id", teen), ("en", teen)])
    assert [status for status, _ in played] == ["SUCCESS", "FAILED"]
    missing = [line for line in log_since(site.messages_log, offset).splitlines()
               if "does not exist" in line]
    assert len(missing) == 1 and "File pln123/num-teen does not exist in any format" in missing[0]
