"""Supervisor accounts: who may log in, and what each role may see and do.

Roles: `national` watches and acts on every site; `site:<name>`
watches every site (pooling makes the neighbours' queues their business too) but acts
only on its own; the wallboard is a read-only viewer that cannot act at all.

Lending (a site's switch and its reserve overrides) is national only: what one site keeps
or lends decides how long the other sites' callers wait, so it is not one site's call to
make, not even for its own site.

Passwords are stored as argon2id hashes (argon2-cffi's defaults), produced by
`pln123 user add`; the plain password never leaves the login request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

NATIONAL = "national"
WALLBOARD = "wallboard"
_SITE_ROLE = re.compile(r"site:([a-z0-9][a-z0-9_-]{0,31})\Z")
SUPERVISOR_NAME = re.compile(r"[a-z][a-z0-9._-]{0,31}\Z")

_HASHER = PasswordHasher()
# Verified when the name is unknown, so a wrong name costs as long as a wrong password
# and the response time does not tell which accounts exist.
_DUMMY_HASH = _HASHER.hash("pln123-no-such-supervisor")


@dataclass(frozen=True)
class Role:
    """`national`, `site:<name>` or the wallboard's read-only role."""

    kind: str          # NATIONAL, "site" or WALLBOARD
    site: str = ""     # for kind "site"

    @classmethod
    def parse(cls, text: str) -> Role:
        """A role as written in the config; ValueError saying what is allowed."""
        if text == NATIONAL:
            return cls(NATIONAL)
        match = _SITE_ROLE.match(text)
        if match:
            return cls("site", match.group(1))
        raise ValueError(f"role {text!r}: must be 'national' or 'site:<site name>'")

    def __str__(self) -> str:
        return f"site:{self.site}" if self.kind == "site" else self.kind

    @property
    def read_only(self) -> bool:
        return self.kind == WALLBOARD

    def may_act_on(self, site: str) -> bool:
        """Pause/log out agents, post outages for `site`'s area codes."""
        return self.kind == NATIONAL or (self.kind == "site" and self.site == site)

    @property
    def may_change_lending(self) -> bool:
        """Switch any site's lending off or on, override its reserve."""
        return self.kind == NATIONAL


@dataclass(frozen=True)
class Supervisor:
    name: str
    role: Role
    password_hash: str

    def __repr__(self) -> str:  # the hash stays out of logs and tracebacks
        return f"Supervisor({self.name!r}, {str(self.role)!r})"


def hash_password(password: str) -> str:
    """An argon2id hash for the config (`pln123 user add`)."""
    if not password:
        raise ValueError("the password is empty")
    return _HASHER.hash(password)


def looks_like_hash(value: str) -> bool:
    """What the config check accepts as a password hash: an argon2id/argon2i PHC string."""
    return value.startswith(("$argon2id$", "$argon2i$"))


def verify(supervisor: Supervisor | None, password: str) -> bool:
    """True when `password` matches; the same work is done for an unknown name."""
    stored = supervisor.password_hash if supervisor is not None else _DUMMY_HASH
    try:
        ok = bool(_HASHER.verify(stored, password))
    except (VerificationError, InvalidHashError):
        ok = False
    return ok and supervisor is not None
