"""The `recording:` section of the admin config: where conversations are recorded, how long
they are kept.

    recording:
      directory: /var/spool/asterisk/pln123-recordings  # where Asterisk writes, as it sees it
      host_directory: /srv/asterisk/var/spool/...         # optional: the same folder for pln123
      keep_days: 90                                        # then the file is deleted

Which queues record is each queue's own say (`acd.queues.<skill>.record: true`); this
section says where and for how long. `host_directory` exists because Asterisk may run in a
chroot or a container: the folder it writes is then somewhere else for `pln123 serve`
(which deletes old files) and for the dashboard (which plays them). Without it both are the
same path. The section is optional: without it nothing is recorded, and a queue asking
for recordings is a config error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pln123.config.reader import Reader

# Asterisk splits MixMonitor's arguments on `,` and reads `|`, quotes and `${` itself: a
# folder is plain path characters only.
SAFE_DIRECTORY = re.compile(r"/[A-Za-z0-9._/-]*\Z")
MAX_KEEP_DAYS = 3650


@dataclass(frozen=True)
class RecordingSettings:
    directory: str            # the folder as Asterisk sees it (MixMonitor's file)
    host_directory: Path      # the same folder as pln123 sees it
    keep_days: float = 90.0

    @property
    def keep_s(self) -> float:
        return self.keep_days * 86_400


def parse_recording(top: Reader) -> RecordingSettings | None:
    if top.raw("recording") is None:
        return None
    reader = top.child("recording")
    directory = reader.text("directory")
    if directory and (not SAFE_DIRECTORY.match(directory) or ".." in directory.split("/")):
        reader.error(f"{directory!r} must be an absolute path of letters, digits, '.', '_', "
                     "'-' and '/' (no '..')", "directory")
    host = reader.text("host_directory", "") or directory
    if host and not Path(host).is_absolute():
        reader.error(f"{host!r} must be an absolute path", "host_directory")
    keep_days = reader.number("keep_days", 90, 1, MAX_KEEP_DAYS)
    reader.finish()
    return RecordingSettings(directory.rstrip("/") or "/", Path(host), keep_days)
