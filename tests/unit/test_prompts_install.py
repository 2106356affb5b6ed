"""Installing built prompts into an Asterisk root: chroot symlinks, atomic swap, warnings."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

import ivr.prompts.build
from ivr.prompts.errors import PromptError
from ivr.prompts.install import STALE_AFTER_S, install_sounds, resolve_in_root
from ivr.prompts.manifest import MANIFEST_NAME
from ivr.prompts.render import Tools
from tools.sandbox.prompts import provide_prompts

SOUNDS = "usr/share/asterisk/sounds"


def built(tmp_path: Path, **files: bytes) -> Path:
    """A fake build folder: <sounds>/<lang>/pln123/<name>.wav for each `lang__name=bytes`."""
    sounds = tmp_path / "built"
    for key, data in files.items():
        language, name = key.split("__")
        folder = sounds / language / "pln123"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name.replace('_', '-')}.wav").write_bytes(data)
        (folder / MANIFEST_NAME).write_text("{}")
    return sounds


def debian_like_root(tmp_path: Path) -> Path:
    """sounds/en -> /etc/alternatives/asterisk-prompt-en -> /usr/share/.../en_US_f_Allison."""
    root = tmp_path / "root"
    (root / SOUNDS / "en_US_f_Allison").mkdir(parents=True)
    (root / "etc" / "alternatives").mkdir(parents=True)
    os.symlink("/usr/share/asterisk/sounds/en_US_f_Allison",
               root / "etc" / "alternatives" / "asterisk-prompt-en")
    os.symlink("/etc/alternatives/asterisk-prompt-en", root / SOUNDS / "en")
    return root


def test_absolute_symlinks_resolve_inside_the_root(tmp_path: Path) -> None:
    root = debian_like_root(tmp_path)
    assert resolve_in_root(root, "/usr/share/asterisk/sounds/en") == (
        root / SOUNDS / "en_US_f_Allison"
    )
    assert resolve_in_root(root, "/usr/share/asterisk/sounds/id") == root / SOUNDS / "id"
    assert resolve_in_root(root, "/../../etc") == root / "etc"  # ".." stops at the root
    os.symlink("loop", root / "loop")
    with pytest.raises(PromptError, match="too many symlinks"):
        resolve_in_root(root, "/loop")


def test_install_links_a_complete_readable_set_per_language(tmp_path: Path) -> None:
    root = debian_like_root(tmp_path)
    sounds = built(tmp_path, id__welcome=b"halo", en__welcome=b"hello", en__num_1=b"one")
    installed = install_sounds(sounds, root)
    assert set(installed) == {"id", "en"}
    en = root / SOUNDS / "en_US_f_Allison" / "pln123"  # the host cannot follow sounds/en
    assert sorted(p.name for p in en.iterdir()) == ["num-1.wav", "welcome.wav"]  # no manifest
    assert (en / "welcome.wav").read_bytes() == b"hello"
    assert (root / SOUNDS / "id" / "pln123" / "welcome.wav").read_bytes() == b"halo"
    assert installed["en"] == en
    assert en.is_symlink() and not os.readlink(en).startswith("/")  # valid in the chroot
    assert (en.stat().st_mode & 0o777, (en / "welcome.wav").stat().st_mode & 0o777) == (
        0o755, 0o644)


def test_reinstall_reuses_equal_content_and_swaps_changed_content(tmp_path: Path) -> None:
    root = debian_like_root(tmp_path)
    sounds = built(tmp_path, id__welcome=b"v1")
    folder = root / SOUNDS / "id"
    install_sounds(sounds, root)
    first = os.readlink(folder / "pln123")
    install_sounds(sounds, root)
    assert os.readlink(folder / "pln123") == first
    (sounds / "id" / "pln123" / "welcome.wav").write_bytes(b"v2")
    install_sounds(sounds, root)
    second = os.readlink(folder / "pln123")
    assert second != first
    assert (folder / "pln123" / "welcome.wav").read_bytes() == b"v2"
    assert (folder / first).is_dir()  # a young old set stays: someone may be opening it
    old = time.time() - STALE_AFTER_S - 1
    os.utime(folder / first, (old, old))
    install_sounds(sounds, root)
    assert sorted(p.name for p in folder.iterdir()) == sorted(["pln123", second])


def test_a_real_folder_in_the_way_is_moved_aside(tmp_path: Path) -> None:
    root = debian_like_root(tmp_path)
    (root / SOUNDS / "id" / "pln123").mkdir(parents=True)
    (root / SOUNDS / "id" / "pln123" / "hand.wav").write_bytes(b"x")
    install_sounds(built(tmp_path, id__welcome=b"v1"), root)
    assert (root / SOUNDS / "id" / "pln123").is_symlink()
    assert [p.name for p in (root / SOUNDS / "id" / "pln123").iterdir()] == ["welcome.wav"]


def test_concurrent_installs_always_leave_a_complete_set(tmp_path: Path) -> None:
    root = debian_like_root(tmp_path)
    builds = [built(tmp_path / str(n), id__welcome=f"v{n % 2}".encode(), id__bye=b"b")
              for n in range(8)]
    barrier = threading.Barrier(len(builds))
    errors: list[BaseException] = []

    def install(sounds: Path) -> None:
        barrier.wait()
        try:
            install_sounds(sounds, root)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=install, args=(b,)) for b in builds]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    folder = root / SOUNDS / "id" / "pln123"
    assert sorted(p.name for p in folder.iterdir()) == ["bye.wav", "welcome.wav"]
    assert (folder / "welcome.wav").read_bytes() in (b"v0", b"v1")
    leftovers = [p.name for p in (root / SOUNDS / "id").iterdir() if "tmp" in p.name
                 or "link" in p.name]
    assert leftovers == []


def test_nothing_built_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PromptError, match="run: pln123 prompts build"):
        install_sounds(tmp_path / "empty", debian_like_root(tmp_path))


def no_tools() -> Tools:
    raise PromptError("espeak-ng and sox are not installed; install with: apt-get install "
                      "espeak-ng sox")


def test_sandbox_without_tools_warns_and_installs_the_previous_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ivr.prompts.build, "find_tools", no_tools)
    root = debian_like_root(tmp_path)
    warnings: list[str] = []
    result = provide_prompts(root, sounds_dir=built(tmp_path, id__welcome=b"old"),
                             warn=warnings.append)
    assert set(result.installed) == {"id"}
    assert warnings == ["prompts not rebuilt: espeak-ng and sox are not installed; install "
                        "with: apt-get install espeak-ng sox"]


def test_sandbox_without_tools_or_build_warns_that_ivr_tests_will_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ivr.prompts.build, "find_tools", no_tools)
    warnings: list[str] = []
    result = provide_prompts(debian_like_root(tmp_path), sounds_dir=tmp_path / "none",
                             warn=warnings.append)
    assert result.installed == {}
    assert len(warnings) == 2
    assert "apt-get install espeak-ng sox" in warnings[0]
    assert warnings[1].startswith("prompts not installed, IVR tests will fail")
