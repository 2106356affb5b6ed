"""Mount-aware file system helpers for folders that may hold a chroot.

debootstrap mounts /proc and /sys (and in containers binds /dev) inside the target while it
runs; an interrupted build can leave them mounted. Deleting such a folder with a plain
recursive delete would walk into the host's /dev or /proc, so every removal first unmounts
what lies below and refuses to go on if anything stays mounted.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tools.sandbox.errors import SandboxError

PROC_MOUNTS = Path("/proc/mounts")


def _unescape(field: str) -> str:
    # /proc/mounts escapes space, tab, newline and backslash as \040, \011, \012, \134.
    return (
        field.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
    )


def mounts_below(path: Path, mounts_file: Path = PROC_MOUNTS) -> list[Path]:
    """Mount points at or below `path`, deepest first (the order to unmount them in)."""
    base = os.path.realpath(path)
    found = []
    for line in mounts_file.read_text().splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        point = _unescape(fields[1])
        if point == base or point.startswith(base.rstrip("/") + "/"):
            found.append(Path(point))
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def unmount_below(path: Path) -> None:
    for point in mounts_below(path):
        subprocess.run(["umount", str(point)], check=False, capture_output=True)
    left = mounts_below(path)
    if left:
        names = ", ".join(str(p) for p in left)
        raise SandboxError(f"cannot unmount {names}; unmount by hand, then retry")


def remove_tree(path: Path) -> None:
    """Delete a folder that may have been a chroot, never crossing into a mounted file system."""
    if not path.exists() and not path.is_symlink():
        return
    unmount_below(path)
    result = subprocess.run(
        ["rm", "-rf", "--one-file-system", "--", str(path)], capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SandboxError(f"cannot remove {path}: {result.stderr.strip()}")
