"""Install built prompts into an Asterisk root (the sandbox's chroot) without a torn state.

The sandbox root is shared by every namespace (a developer's sandbox and any number of test
sessions), so two `sandbox up`s may install at the same moment while Asterisks are playing.
Each language's `pln123` entry is therefore a symlink to a content-addressed folder:

    <sounds>/<lang>/.pln123-<digest>/   complete copy, written under a temp name, then renamed
    <sounds>/<lang>/pln123 -> .pln123-<digest>   swapped with one rename(2)

A reader sees the old set or the new set, never a half-copied one; equal content gives the
same folder, so concurrent installs of the same build agree. Old sets are removed once they
are a while old (a player that opened a file keeps reading it after the unlink anyway).

Paths inside the root may be absolute symlinks meant for the chroot (Debian's
`sounds/en -> /etc/alternatives/asterisk-prompt-en`), so they are resolved against the root,
never against the host.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path, PurePosixPath

from ivr.prompts.catalogue import SOUND_FOLDER
from ivr.prompts.errors import PromptError

ASTERISK_SOUNDS = "/usr/share/asterisk/sounds"  # astdatadir of the sandbox + "/sounds"
SET_PREFIX = f".{SOUND_FOLDER}-"
STALE_AFTER_S = 600.0
_MAX_SYMLINKS = 40


def resolve_in_root(root: Path, inside: str) -> Path:
    """The host path of `inside` as the chroot at `root` sees it (symlinks followed there)."""
    parts = list(PurePosixPath(inside).parts[1:])
    current, hops = root, 0
    while parts:
        part = parts.pop(0)
        if part == ".":
            continue
        if part == "..":
            current = current.parent if current != root else root
            continue
        candidate = current / part
        if candidate.is_symlink():
            hops += 1
            if hops > _MAX_SYMLINKS:
                raise PromptError(f"too many symlinks resolving {inside} in {root}")
            target = PurePosixPath(os.readlink(candidate))
            if target.is_absolute():
                current, parts = root, [*target.parts[1:], *parts]
            else:
                parts = [*target.parts, *parts]
            continue
        current = candidate
    return current


def sound_files(folder: Path) -> list[Path]:
    """The files Asterisk may play: regular, not hidden (no manifest, lock or temp files)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def install_sounds(sounds_dir: Path, root: Path) -> dict[str, Path]:
    """Install every `<sounds_dir>/<lang>/pln123/` into the root; returns lang -> folder used.

    Raises PromptError when there is nothing to install.
    """
    installed: dict[str, Path] = {}
    languages = sorted(p.parent.name for p in sounds_dir.glob(f"*/{SOUND_FOLDER}") if p.is_dir())
    for language in languages:
        files = sound_files(sounds_dir / language / SOUND_FOLDER)
        if files:
            target = resolve_in_root(root, f"{ASTERISK_SOUNDS}/{language}")
            installed[language] = _install_language(files, target)
    if not installed:
        raise PromptError(f"no built prompts in {sounds_dir}; run: pln123 prompts build")
    return installed


def _install_language(files: list[Path], language_dir: Path) -> Path:
    language_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    final = language_dir / f"{SET_PREFIX}{digest.hexdigest()[:16]}"
    if final.is_dir():
        os.utime(final)  # fresh again: a concurrent clean-up must not take it
    else:
        _copy_set(files, final)
    link = language_dir / SOUND_FOLDER
    if link.exists() and not link.is_symlink():
        # A real folder from a hand install: move it aside (it is then cleaned up as stale).
        os.rename(link, language_dir / f"{SET_PREFIX}old-{_unique()}")
    temp_link = language_dir / f"{SET_PREFIX}link-{_unique()}"
    os.symlink(final.name, temp_link)
    os.replace(temp_link, link)
    _clean_up(language_dir, keep=final.name)
    return link


def _unique() -> str:
    return f"{os.getpid()}-{secrets.token_hex(6)}"


def _copy_set(files: list[Path], final: Path) -> None:
    temp = Path(tempfile.mkdtemp(prefix=f"{SET_PREFIX}tmp-", dir=final.parent))
    try:
        for path in files:
            copy = temp / path.name
            shutil.copyfile(path, copy)
            copy.chmod(0o644)
        temp.chmod(0o755)  # mkdtemp makes 0700; Asterisk runs as its own user
        try:
            os.rename(temp, final)
        except OSError:
            if not final.is_dir():  # not "another install got there first"
                raise
    finally:
        if temp.exists():
            shutil.rmtree(temp)


def _clean_up(language_dir: Path, keep: str) -> None:
    """Remove our sets and temp leftovers that are not current and have aged."""
    now = time.time()
    current = os.readlink(language_dir / SOUND_FOLDER)
    for path in language_dir.glob(f"{SET_PREFIX}*"):
        if path.name in (keep, current):
            continue
        try:
            if now - path.lstat().st_mtime < STALE_AFTER_S:
                continue
            if path.is_symlink():
                path.unlink()  # a temp link left by an install that crashed
            else:
                shutil.rmtree(path)
        except FileNotFoundError:
            continue  # another install removed it first
