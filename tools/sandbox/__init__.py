"""The local Asterisk 22 sandbox: a cached Debian-sid root and one instance per site.

Used by `pln123 sandbox build|up|status|down` and by the pytest fixtures; see
deploy/sandbox/README.md for the layout, the test dialplan and the AMI users.
"""

from __future__ import annotations

from tools.sandbox.build import DEFAULT_CACHE_DIR, BuildResult, build_root
from tools.sandbox.errors import SandboxError
from tools.sandbox.host import Host
from tools.sandbox.instance import ADMIN_USER, PLN123_USER, Instance
from tools.sandbox.mirror import find_debian_mirror
from tools.sandbox.probe import RawAmi
from tools.sandbox.sandbox import (
    AMI_BASE_PORT,
    DEFAULT_NAMESPACE,
    IAX_BASE_PORT,
    SIP_BASE_PORT,
    Sandbox,
)
from tools.sandbox.sip import CARRIER_ADDRESS

__all__ = [
    "ADMIN_USER",
    "AMI_BASE_PORT",
    "CARRIER_ADDRESS",
    "DEFAULT_CACHE_DIR",
    "DEFAULT_NAMESPACE",
    "IAX_BASE_PORT",
    "PLN123_USER",
    "SIP_BASE_PORT",
    "BuildResult",
    "Host",
    "Instance",
    "RawAmi",
    "Sandbox",
    "SandboxError",
    "build_root",
    "find_debian_mirror",
]
