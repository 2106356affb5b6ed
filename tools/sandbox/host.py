"""What the sandbox needs from the host, behind small seams the unit tests replace.

Building and starting the sandbox needs root (debootstrap, chroot) and the debootstrap
program; checking both up front turns a confusing failure half-way through a build into one
clear sentence.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field

from tools.sandbox.errors import SandboxError

# Debian puts debootstrap in /usr/sbin, which is not on a normal user's PATH.
_SBIN_DIRS = ("/usr/sbin", "/sbin", "/usr/local/sbin")


def _which(program: str) -> str | None:
    found = shutil.which(program)
    if found:
        return found
    for directory in _SBIN_DIRS:
        candidate = os.path.join(directory, program)
        if os.access(candidate, os.X_OK):
            return candidate
    return None


@dataclass(frozen=True)
class Host:
    """The host facts the sandbox depends on; tests pass fakes."""

    is_root: Callable[[], bool] = field(default=lambda: os.geteuid() == 0)
    which: Callable[[str], str | None] = field(default=_which)

    def require_root(self, doing: str) -> None:
        if not self.is_root():
            raise SandboxError(
                f"{doing} needs root (it uses chroot and debootstrap); run it with sudo or as root"
            )

    def require_debootstrap(self) -> str:
        path = self.which("debootstrap")
        if path is None:
            raise SandboxError(
                "debootstrap is not installed; install it with: apt-get install debootstrap"
            )
        return path
