"""The `dashboard:` section of the admin config: where the dashboard listens, who may log in.

    dashboard:
      listen: 127.0.0.1:8123             # host:port; loopback unless behind TLS or a proxy
      session_lifetime_s: 43200           # a supervisor logs in once per shift
      service_level_target: 0.8           # the SL colours: green at or above it
      utc_offset_h: 7                     # "today" starts at local midnight (WIB)
      wallboard_token_file: secrets/wallboard.token   # >= 16 characters, never in the YAML
      tls: {cert: secrets/dashboard.crt, key: secrets/dashboard.key}   # optional
      trusted_proxies: [127.0.0.1]        # optional: whose X-Forwarded-For names the client
      supervisors:
        - {name: nasional, role: national, password_hash: "$argon2id$..."}
        - {name: medan, role: "site:medan", password_hash: "$argon2id$..."}

Passwords are only ever stored as argon2 hashes, printed by `pln123 user add`. The section
is optional: a config without it has no dashboard (None). `trusted_proxies` (addresses or
networks) matters for login throttling only: without it every request counts as coming
from its connection's peer, which behind a reverse proxy is the proxy for everybody.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

from pln123.config.reader import Problem, Reader
from pln123.web.accounts import SUPERVISOR_NAME, Role, Supervisor, looks_like_hash

HOST = re.compile(r"[A-Za-z0-9.:\[\]-]{1,253}\Z")
MIN_TOKEN = 16


@dataclass(frozen=True)
class DashboardSettings:
    host: str = "127.0.0.1"
    port: int = 8123
    supervisors: tuple[Supervisor, ...] = ()
    wallboard_token_file: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    session_lifetime_s: float = 12 * 3600
    sl_target: float = 0.8
    utc_offset_s: float = 7 * 3600
    trusted_proxies: tuple[str, ...] = ()

    @property
    def secure(self) -> bool:
        return self.tls_cert is not None

    def read_wallboard_token(self) -> str:
        """Read when the dashboard starts; a rotated token takes effect on restart."""
        if self.wallboard_token_file is None:
            raise ValueError("dashboard.wallboard_token_file is not set")
        return self.wallboard_token_file.read_text(encoding="utf-8").strip()


def parse_listen(text: str) -> tuple[str, int]:
    """`host:port` (IPv6 in brackets); ValueError saying what is wrong."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"{text!r} is not host:port (port 1-65535)")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not HOST.match(host):
        raise ValueError(f"{host!r} is not a host name or address")
    return host, int(port)


def parse_dashboard(top: Reader, base: Path, sites: set[str]) -> DashboardSettings | None:
    """The section, or None when absent; problems go to the reader's list."""
    if top.raw("dashboard") is None:
        return None
    reader = top.child("dashboard")
    host, port = "127.0.0.1", 8123
    listen = reader.text("listen", "127.0.0.1:8123")
    try:
        host, port = parse_listen(listen)
    except ValueError as error:
        reader.error(str(error), "listen")
    lifetime = reader.number("session_lifetime_s", 12 * 3600, 60, 7 * 86_400)
    target = reader.number("service_level_target", 0.8, 0.0, 1.0)
    offset = reader.number("utc_offset_h", 7, -12, 14)
    token_file = _secret(reader, "wallboard_token_file", base, required=True)
    cert = key = None
    if reader.has("tls"):
        tls = reader.child("tls")
        cert = _secret(tls, "cert", base, required=True)
        key = _secret(tls, "key", base, required=True)
        tls.finish()
    supervisors = _supervisors(reader, sites)
    proxies = _proxies(reader)
    reader.finish()
    return DashboardSettings(host, port, supervisors, token_file, cert, key, lifetime, target,
                             offset * 3600, proxies)


def _proxies(reader: Reader) -> tuple[str, ...]:
    found: list[str] = []
    for _index, entry, path in reader.entries("trusted_proxies", required=False):
        try:
            found.append(str(ipaddress.ip_network(str(entry), strict=False)))
        except ValueError:
            reader.problems.append(Problem(path, f"{entry!r} is not an IP address or "
                                                 "network (like 10.0.0.0/8)"))
    return tuple(found)


def _secret(reader: Reader, key: str, base: Path, *, required: bool) -> Path | None:
    name = reader.text(key, None if required else "")
    if not name:
        return None
    path = Path(name) if Path(name).is_absolute() else base / name
    try:
        content = path.read_text(encoding="utf-8").strip()
    except OSError as error:
        reader.error(f"cannot read {path}: {error.strerror}", key)
        return path
    if key == "wallboard_token_file" and len(content) < MIN_TOKEN:
        reader.error(f"the token in {path} must be at least {MIN_TOKEN} characters", key)
    return path


def _supervisors(reader: Reader, sites: set[str]) -> tuple[Supervisor, ...]:
    found: list[Supervisor] = []
    for index, item, path in reader.entries("supervisors"):
        entry = Reader(item, path, reader.problems)
        name = entry.text("name")
        role_text = entry.text("role")
        password_hash = entry.text("password_hash")
        entry.finish()
        if entry.broken:
            continue
        ok = True
        if name and not SUPERVISOR_NAME.match(name):
            entry.error(f"{name!r} is not a supervisor name ([a-z][a-z0-9._-]*, max 32)",
                        "name")
            ok = False
        elif any(s.name == name for s in found):
            entry.error(f"{name!r} is listed twice", "name")
            ok = False
        role = None
        if role_text:
            try:
                role = Role.parse(role_text)
            except ValueError as error:
                entry.error(str(error), "role")
            if role is not None and role.kind == "site" and role.site not in sites:
                entry.error(f"no site {role.site!r} (sites: {', '.join(sorted(sites))})",
                            "role")
                role = None
        if password_hash and not looks_like_hash(password_hash):
            entry.error("must be an argon2 hash ($argon2id$...): run `pln123 user add`",
                        "password_hash")
            ok = False
        if ok and name and role is not None and password_hash:
            found.append(Supervisor(name, role, password_hash))
        del index
    return tuple(found)
