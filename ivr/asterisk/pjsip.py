"""PJSIP endpoints, auths and AORs for a site's agents, from the roster in the admin config.

One endpoint per agent whose roster endpoint is `PJSIP/<name>`: the phone registers as
`<name>` with the secret from the agents' secrets file, lands in the site's feature-code
context (`*11` log in, ...) and carries `PLN123_AGENT=<id>` (`set_var`), which the phone
cannot change, so its feature codes always name the right agent (ivr/dialplan/features.py).
Keys reach Asterisk as RFC 4733 events (`dtmf_mode = rfc4733`), which every softphone and
desk phone sends by default and no codec can garble. A site with a `sip:` section puts the
endpoints on the transport `ivr/asterisk/carriers.py` renders (and their RTP on its address).

The secrets file (`asterisk.agent_secrets_file`, `{site}` replaced by the site name) has one
agent per line, `<agent id>: <secret>`; blank lines and lines starting with `#` are
ignored. It should be mode 0600 (or 0640 with a group), owned by the admin who renders;
`pln123 serve` never reads it. Errors name the file and line, never the secret.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Callable, Sequence
from pathlib import Path

from ivr.asterisk.carriers import media_lines, transport_name
from ivr.asterisk.errors import RenderError
from ivr.dialplan.names import agent_features_context
from ivr.settings import AgentPhone, TelephonyConfig

PJSIP_FILE = "pjsip_pln123_agents.conf"
_RESOURCE = re.compile(r"PJSIP/([A-Za-z0-9][A-Za-z0-9_.+-]{0,39})")
_SECRET = re.compile(r"[A-Za-z0-9_.~+/=@%:!^*-]{12,128}")
_LINE = re.compile(r"([0-9]{3,8})\s*:\s*(\S*)\s*")
# Caller id names: no `"`, `<`, `;` or line breaks reach the config line.
_NAME_UNSAFE = re.compile(r"[^\w .'-]", re.UNICODE)


def read_agent_secrets(path: Path, warn: Callable[[str], None] | None = None) -> dict[str, str]:
    """agent id -> secret from `path`; RenderError naming the line (never the value)."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RenderError(f"cannot read the agents' secrets file {path}: {error}") from error
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise RenderError(f"{path} is writable by group or others (mode "
                          f"{stat.S_IMODE(mode):04o}): anyone could set an agent's password; "
                          "chmod 600 it")
    if mode & stat.S_IROTH and warn is not None:
        warn(f"{path} is readable by every user (mode {stat.S_IMODE(mode):04o}); "
             "chmod 600 it")
    secrets: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.fullmatch(line.strip())
        if match is None:
            raise RenderError(f"{path}:{number}: not '<agent id>: <secret>'")
        agent_id, secret = match.groups()
        if not _SECRET.fullmatch(secret):
            raise RenderError(f"{path}:{number}: the secret for agent {agent_id} must be 12 "
                              "to 128 characters of A-Z a-z 0-9 _.~+/=@%:!^*-")
        if agent_id in secrets:
            raise RenderError(f"{path}:{number}: agent {agent_id} is listed twice")
        secrets[agent_id] = secret
    return secrets


def pjsip_resource(agent: AgentPhone) -> str | None:
    """`1001` for `PJSIP/1001`; None for endpoints this file does not define (Local, IAX2,
    `PJSIP/x/sip:...`)."""
    match = _RESOURCE.fullmatch(agent.endpoint)
    return match.group(1) if match else None


def _caller_name(name: str) -> str:
    return _NAME_UNSAFE.sub("", name).strip()[:40]


def render_pjsip(config: TelephonyConfig, site_name: str, agents: Sequence[AgentPhone],
                 secrets: dict[str, str]) -> dict[str, str]:
    """File name -> text: endpoint, auth and aor per PJSIP agent of `site_name` (of the
    roster `agents`)."""
    if site_name not in config.sites:
        raise RenderError(f"no site {site_name!r} (sites: {', '.join(config.sites)})")
    settings = config.asterisk
    site = config.sites[site_name]
    context = settings.agent_context or agent_features_context(site_name)
    agents = [a for a in agents if a.site == site_name]
    pjsip = [(a, r) for a in agents if (r := pjsip_resource(a)) is not None]
    missing = [a.id for a, _ in pjsip if a.id not in secrets]
    if missing:
        raise RenderError(f"no secret for agent(s) {', '.join(missing)} of site {site_name} "
                          "in the agents' secrets file")
    skipped = [f"{a.id} ({a.endpoint})" for a in agents if pjsip_resource(a) is None]
    out = [
        f"; pln123: PJSIP endpoints for the agents of site {site_name}, rendered by",
        "; `pln123 asterisk render` from the roster (`agents:`). #include it from pjsip.conf.",
        "; It holds the agents' SIP passwords: mode 0640, owner root, group asterisk.",
    ]
    if skipped:
        out.append(f"; Not PJSIP/<name> endpoints, not defined here: {', '.join(skipped)}")
    for agent, resource in pjsip:
        name = _caller_name(agent.name)
        callerid = f'"{name}" <{agent.id}>' if name else f"<{agent.id}>"
        out += [
            "",
            f"; agent {agent.id}",
            f"[{resource}]",
            "type = endpoint",
            f"context = {context}",
            "disallow = all",
            f"allow = {','.join(settings.codecs)}",
            f"auth = {resource}-auth",
            f"aors = {resource}",
            f"callerid = {callerid}",
            f"set_var = PLN123_AGENT={agent.id}",
            "dtmf_mode = rfc4733",
            "direct_media = no",
            "rtp_symmetric = yes",
            "force_rport = yes",
            "rewrite_contact = yes",
            *media_lines(site),
        ]
        if site.sip is not None:
            out.append(f"transport = {transport_name(config)}")
        elif settings.transport:
            out.append(f"transport = {settings.transport}")
        out += [
            "",
            f"[{resource}-auth]",
            "type = auth",
            "auth_type = digest",
            f"username = {resource}",
            f"password = {secrets[agent.id]}",
            "",
            f"[{resource}]",
            "type = aor",
            "max_contacts = 1",
            "remove_existing = yes",
            "qualify_frequency = 30",
        ]
    return {PJSIP_FILE: "\n".join(out) + "\n"}
