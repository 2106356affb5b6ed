"""`prompts build`: valid 8 kHz files, incremental re-rendering, admin recordings kept."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from ivr.prompts.build import BuildReport, build_prompts, plan_jobs
from ivr.prompts.errors import PromptError
from ivr.prompts.manifest import MANIFEST_NAME, Manifest
from ivr.prompts.render import Tools, find_tools
from pln123.cli.main import main
from pln123.config import Prompt
from tests.fixtures.availability import skip_or_fail

WELCOME = {"welcome": Prompt("welcome", {"id": "Selamat datang.", "en": "Welcome."})}
ADMIN_BYTES = b"RIFF an admin's studio recording"


@pytest.fixture(scope="module")
def tools() -> Tools:
    try:
        return find_tools()
    except PromptError as error:
        skip_or_fail(str(error))


def build(sounds: Path, tools: Tools, prompts: dict[str, Prompt] | None = None,
          **kwargs: object) -> BuildReport:
    plan = plan_jobs(prompts or WELCOME, ("id", "en"), fragments=False)
    return build_prompts(plan.jobs, sounds, tools=tools, **kwargs)  # type: ignore[arg-type]


def names(jobs: object) -> list[str]:
    return sorted(job.name for job in jobs)  # type: ignore[attr-defined]


def test_builds_8khz_mono_16bit_wav_per_language(tmp_path: Path, tools: Tools) -> None:
    report = build(tmp_path, tools)
    assert names(report.rendered) == ["en/welcome", "id/welcome"]
    assert not report.failed
    for language in ("id", "en"):
        path = tmp_path / language / "pln123" / "welcome.wav"
        with wave.open(str(path)) as audio:
            assert audio.getnchannels() == 1
            assert audio.getsampwidth() == 2
            assert audio.getframerate() == 8000
            assert audio.getcomptype() == "NONE"
            assert 0.3 < audio.getnframes() / 8000 < 5  # seconds: something was spoken
        assert path.stat().st_mode & 0o777 == 0o644  # readable by Asterisk's own user
    leftovers = [p.name for p in tmp_path.rglob(".*") if p.name.startswith((".raw", ".out"))]
    assert leftovers == []


def test_second_build_renders_nothing_and_a_changed_text_only_that_prompt(
    tmp_path: Path, tools: Tools
) -> None:
    prompts = {**WELCOME, "goodbye": Prompt("goodbye", {"id": "Sampai jumpa.", "en": "Bye."})}
    build(tmp_path, tools, prompts)
    before = (tmp_path / "id" / "pln123" / "welcome.wav").stat().st_mtime_ns

    again = build(tmp_path, tools, prompts)
    assert again.rendered == []
    assert len(again.up_to_date) == 4
    assert (tmp_path / "id" / "pln123" / "welcome.wav").stat().st_mtime_ns == before

    prompts["goodbye"] = Prompt("goodbye", {"id": "Terima kasih.", "en": "Bye."})
    changed = build(tmp_path, tools, prompts)
    assert names(changed.rendered) == ["id/goodbye"]
    assert Manifest.load(tmp_path / "id" / "pln123").entries["goodbye"].text == "Terima kasih."


def test_admin_file_dropped_before_the_first_build_is_never_overwritten(
    tmp_path: Path, tools: Tools
) -> None:
    folder = tmp_path / "id" / "pln123"
    folder.mkdir(parents=True)
    (folder / "welcome.wav").write_bytes(ADMIN_BYTES)
    report = build(tmp_path, tools)
    assert names(report.rendered) == ["en/welcome"]
    assert [(job.name, [p.name for p in files]) for job, files in report.admin] == [
        ("id/welcome", ["welcome.wav"])
    ]
    assert (folder / "welcome.wav").read_bytes() == ADMIN_BYTES
    assert "welcome" not in Manifest.load(folder).entries
    # Still the admin's after a text change and a rebuild.
    changed = {"welcome": Prompt("welcome", {"id": "Halo.", "en": "Welcome."})}
    build(tmp_path, tools, changed, prune=True)
    assert (folder / "welcome.wav").read_bytes() == ADMIN_BYTES


def test_admin_recording_over_our_file_is_kept(tmp_path: Path, tools: Tools) -> None:
    build(tmp_path, tools)
    ours = tmp_path / "en" / "pln123" / "welcome.wav"
    ours.write_bytes(ADMIN_BYTES)  # the admin replaced it in place
    report = build(tmp_path, tools, {"welcome": Prompt("welcome", {"id": "Selamat datang.",
                                                                   "en": "Hello."})})
    assert names(report.rendered) == []
    assert names(job for job, _ in report.admin) == ["en/welcome"]
    assert ours.read_bytes() == ADMIN_BYTES


def test_admin_recording_in_another_format_replaces_ours(tmp_path: Path, tools: Tools) -> None:
    build(tmp_path, tools)
    folder = tmp_path / "id" / "pln123"
    (folder / "welcome.gsm").write_bytes(b"gsm frames")
    report = build(tmp_path, tools)
    # Asterisk chooses among all formats of a name: our .wav must not compete.
    assert not (folder / "welcome.wav").exists()
    assert report.removed == [folder / "welcome.wav"]
    assert (folder / "welcome.gsm").read_bytes() == b"gsm frames"
    assert names(report.up_to_date) == ["en/welcome"]


def test_prune_removes_our_files_for_dropped_prompts_but_not_the_admins(
    tmp_path: Path, tools: Tools
) -> None:
    prompts = {**WELCOME, "old": Prompt("old", {"id": "Lama.", "en": "Old."})}
    build(tmp_path, tools, prompts)
    (tmp_path / "en" / "pln123" / "extra.wav").write_bytes(ADMIN_BYTES)
    report = build(tmp_path, tools, dict(WELCOME), prune=True)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in report.removed) == [
        "en/pln123/old.wav", "id/pln123/old.wav"
    ]
    assert (tmp_path / "en" / "pln123" / "extra.wav").read_bytes() == ADMIN_BYTES
    assert "old" not in Manifest.load(tmp_path / "id" / "pln123").entries


def test_missing_tools_name_the_debian_packages() -> None:
    with pytest.raises(PromptError, match=r"apt-get install espeak-ng sox"):
        find_tools(lambda program: None)
    with pytest.raises(PromptError, match=r"sox is not installed.*apt-get install sox$"):
        find_tools(lambda program: None if program == "sox" else f"/usr/bin/{program}")


def test_up_to_date_build_needs_no_tools(tmp_path: Path, tools: Tools) -> None:
    build(tmp_path, tools)
    plan = plan_jobs(WELCOME, ("id", "en"), fragments=False)
    report = build_prompts(plan.jobs, tmp_path, tools=None)  # would fail if it had to render
    assert len(report.up_to_date) == 2


def test_a_failed_render_is_reported_not_raised(tmp_path: Path, tools: Tools) -> None:
    plan = plan_jobs({"x": Prompt("x", {"zz": "text"})}, ("zz",), fragments=False)
    report = build_prompts(plan.jobs, tmp_path, tools=tools)
    [(job, message)] = report.failed
    assert job.name == "zz/x"
    assert "espeak-ng failed (voice 'zz')" in message
    assert not (tmp_path / "zz" / "pln123" / "x.wav").exists()


def test_plan_covers_prompts_and_fragments() -> None:
    three = {"welcome": Prompt("welcome", {"id": "Halo.", "en": "Hello.", "jv": "Sugeng."})}
    plan = plan_jobs(three, ("id", "en", "jv"))
    ids = {job.name for job in plan.jobs}
    assert {"id/welcome", "en/welcome", "jv/welcome", "id/num-teen", "en/time-oh"} <= ids
    assert not any(name.startswith("jv/num-") for name in ids)
    assert plan.warnings == [
        "no number fragments for language 'jv': numbers, customer and ticket numbers "
        "cannot be spoken in it"
    ]
    only = plan_jobs(WELCOME, ("id", "en"), only={"num-7", "welcome"})
    assert sorted(job.name for job in only.jobs) == [
        "en/num-7", "en/welcome", "id/num-7", "id/welcome"
    ]


def test_plan_refuses_unknown_only_ids_and_reserved_prefixes() -> None:
    with pytest.raises(PromptError, match=r"unknown prompt id.*welcom$"):
        plan_jobs(WELCOME, ("id",), only={"welcom"})
    clash = {"num-1": Prompt("num-1", {"id": "satu"})}
    with pytest.raises(PromptError, match="reserved for number fragments"):
        plan_jobs(clash, ("id",))


def test_cli_builds_the_shipped_catalogue_subset(
    tmp_path: Path, tools: Tools, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["prompts", "build", "--sounds-dir", str(tmp_path), "--only",
                   "welcome,num-5"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "4 rendered, 0 up to date" in out
    for path in ("id/pln123/welcome.wav", "en/pln123/num-5.wav", f"id/pln123/{MANIFEST_NAME}"):
        assert (tmp_path / path).is_file()
    assert main(["prompts", "build", "--sounds-dir", str(tmp_path), "--only", "nope"]) == 1
    assert "unknown prompt id(s): nope" in capsys.readouterr().err
