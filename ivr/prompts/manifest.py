"""What `prompts build` made in one `<lang>/pln123/` folder, so it never touches anything else.

The manifest (`.pln123-manifest.json` in the folder) records, per prompt id, the render key
(hash of text, voice and recipe) and the sha256 of the file written. That gives two rules:

- up to date: the file exists, still has the recorded sha256, and the key is unchanged;
  changing one text re-renders just that prompt.
- ours: the file exists with the recorded sha256. Anything else named `<id>.<ext>` in the
  folder — a file the manifest never listed, or one of ours the admin overwrote with a
  recording — is the admin's and is never overwritten or deleted.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ivr.prompts.errors import PromptError
from ivr.prompts.render import file_sha256

MANIFEST_NAME = ".pln123-manifest.json"
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class Entry:
    key: str  # RenderJob.key when the file was written
    sha256: str  # of the file written
    text: str  # for people reading the manifest


@dataclass
class Manifest:
    folder: Path
    entries: dict[str, Entry] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.folder / MANIFEST_NAME

    @classmethod
    def load(cls, folder: Path) -> Manifest:
        path = folder / MANIFEST_NAME
        if not path.exists():
            return cls(folder)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("version") != MANIFEST_VERSION:
                # Unknown layout: trust nothing, so every existing file counts as the admin's.
                return cls(folder)
            entries = {
                prompt_id: Entry(str(e["key"]), str(e["sha256"]), str(e.get("text", "")))
                for prompt_id, e in data["prompts"].items()
            }
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise PromptError(
                f"{path} is damaged ({error}); delete it to treat every file in "
                f"{folder} as an admin recording, or delete the folder to rebuild"
            ) from error
        return cls(folder, entries)

    def save(self) -> None:
        """Write atomically: a crash leaves the old manifest or the new one, never half."""
        self.folder.mkdir(parents=True, exist_ok=True)
        data = {
            "version": MANIFEST_VERSION,
            "comment": "written by `pln123 prompts build`; files not listed here are never "
                       "overwritten",
            "prompts": {
                prompt_id: {"key": e.key, "sha256": e.sha256, "text": e.text}
                for prompt_id, e in sorted(self.entries.items())
            },
        }
        handle, name = tempfile.mkstemp(prefix=".manifest-", dir=self.folder)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(data, out, indent=1, ensure_ascii=False)
                out.write("\n")
            os.chmod(name, 0o644)
            os.replace(name, self.path)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise

    def wav(self, prompt_id: str) -> Path:
        return self.folder / f"{prompt_id}.wav"

    def owns(self, prompt_id: str) -> bool:
        """The id's .wav is exactly the file this build wrote (not replaced since)."""
        entry = self.entries.get(prompt_id)
        target = self.wav(prompt_id)
        return entry is not None and target.is_file() and file_sha256(target) == entry.sha256

    def admin_files(self, prompt_id: str) -> list[Path]:
        """Every `<id>.<ext>` in the folder that is not our own .wav: an admin's recording.

        Any extension counts (.wav, .gsm, .sln16, .g722, ...): Asterisk picks among all
        formats of a name, so our .wav beside an admin's .gsm could be played instead.
        """
        if not self.folder.is_dir():
            return []
        ours = self.wav(prompt_id) if self.owns(prompt_id) else None
        prefix = f"{prompt_id}."
        return sorted(
            path for path in self.folder.iterdir()
            if path.name.startswith(prefix) and "." not in path.name[len(prefix):]
            and path != ours
        )
