"""One prompt text to one telephone-quality WAV: espeak-ng speaks, sox converts.

Asterisk's `format_wav` plays 8 kHz mono 16-bit signed PCM WAV without transcoding
surprises, so that is what every file is. espeak-ng writes 22.05 kHz; sox resamples (with
its anti-aliasing filter), normalises to -3 dBFS (espeak peaks near -8 dBFS, quiet on a
phone line) and, for number fragments, trims the silence espeak adds around a word, so
that "dua puluh satu" played as three files does not sound like three sentences.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ivr.prompts.errors import PromptError

SAMPLE_RATE = 8000
# espeak-ng voices for our languages; any other language code is tried as a voice name.
VOICES = {"id": "id", "en": "en"}
SPEED_WPM = 160  # espeak's default 175 is hurried for callers on a noisy line
# Bump when the commands below change, so every manifest entry is re-rendered once.
RENDER_VERSION = 1
TOOL_TIMEOUT_S = 60.0

_TRIM = ["silence", "1", "0.02", "0.5%", "reverse", "silence", "1", "0.02", "0.5%", "reverse",
         "pad", "0.02", "0.08"]
_PACKAGES = {"espeak-ng": "espeak-ng", "sox": "sox"}


@dataclass(frozen=True)
class RenderJob:
    """One file to make: `<sounds>/<language>/pln123/<prompt_id>.wav` from `text`."""

    language: str
    prompt_id: str
    text: str
    fragment: bool = False  # a number fragment: trimmed tight, see the module docstring

    @property
    def voice(self) -> str:
        return VOICES.get(self.language, self.language)

    @property
    def key(self) -> str:
        """Changes whenever the audio would: text, voice, speed, trimming, commands."""
        recipe = "\0".join(
            (str(RENDER_VERSION), self.voice, str(SPEED_WPM), str(self.fragment), self.text)
        )
        return hashlib.sha256(recipe.encode("utf-8")).hexdigest()

    @property
    def name(self) -> str:
        return f"{self.language}/{self.prompt_id}"


@dataclass(frozen=True)
class Tools:
    espeak: str
    sox: str


def find_tools(which: Callable[[str], str | None] = shutil.which) -> Tools:
    """Both programs, or one PromptError naming every missing Debian package."""
    found = {program: which(program) for program in _PACKAGES}
    missing = [_PACKAGES[program] for program, path in found.items() if path is None]
    if missing:
        names = " and ".join(missing)
        raise PromptError(
            f"{names} {'is' if len(missing) == 1 else 'are'} not installed, so prompts cannot "
            f"be rendered; install with: apt-get install {' '.join(missing)}"
        )
    return Tools(espeak=found["espeak-ng"] or "", sox=found["sox"] or "")


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def render(
    job: RenderJob, target: Path, tools: Tools, may_replace: Callable[[], bool] = lambda: True
) -> str:
    """Render `job` into `target` atomically (temp file + rename); returns the file's sha256.

    `may_replace` is asked just before the rename; False abandons the file (PromptError).

    Both temp files live beside the target, so the rename never crosses file systems and a
    crash leaves only dot-files that Asterisk never asks for.
    """
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    raw = _temp(folder, f".raw-{job.prompt_id}-")
    out = _temp(folder, f".out-{job.prompt_id}-")
    try:
        _run(
            [tools.espeak, "-v", job.voice, "-s", str(SPEED_WPM), "-w", str(raw), "--stdin"],
            job, "espeak-ng", stdin=job.text,
        )
        effects = [*(_TRIM if job.fragment else []), "norm", "-3"]
        _run(
            [tools.sox, "-D", "-V1", str(raw), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16",
             "-e", "signed-integer", "-t", "wav", str(out), *effects],
            job, "sox",
        )
        digest = file_sha256(out)
        out.chmod(0o644)  # mkstemp makes 0600; Asterisk runs as its own user
        if not may_replace():
            raise PromptError(f"{job.name}: a recording appeared during the build; kept it")
        os.replace(out, target)
        return digest
    finally:
        raw.unlink(missing_ok=True)
        out.unlink(missing_ok=True)


def _temp(folder: Path, prefix: str) -> Path:
    handle, name = tempfile.mkstemp(prefix=prefix, suffix=".wav", dir=folder)
    os.close(handle)
    return Path(name)


def _run(argv: list[str], job: RenderJob, tool: str, stdin: str | None = None) -> None:
    try:
        result = subprocess.run(
            argv,
            input=stdin.encode("utf-8") if stdin is not None else None,
            capture_output=True,
            timeout=TOOL_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise PromptError(f"{job.name}: {tool} took over {TOOL_TIMEOUT_S:g} s") from error
    except OSError as error:
        raise PromptError(f"{job.name}: cannot run {tool}: {error.strerror}") from error
    if result.returncode != 0:
        detail = result.stderr.decode("utf-8", "replace").strip().splitlines()
        hint = f" (voice {job.voice!r})" if tool == "espeak-ng" else ""
        raise PromptError(
            f"{job.name}: {tool} failed{hint}: {detail[-1] if detail else result.returncode}"
        )
