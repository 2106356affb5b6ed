"""Render an instance's Asterisk configuration from the templates in deploy/sandbox/.

The templates are plain Asterisk files an admin can read and diff; the only syntax added is
`{{name}}`, chosen because it cannot collide with Asterisk's `${VAR}` and `$[expr]`. Values
are checked against a narrow alphabet, so a site name or secret can never smuggle a newline
(a new config line) into a rendered file.

Beside the templates, each instance gets the site's real pln123 dialplan (ivr.dialplan,
from the admin config) as `pln123-dialplan.conf`, which the sandbox's extensions.conf
includes: the end-to-end tests call the same contexts a carrier would. Likewise the
`[pln123]` AMI user in manager.conf is the one `pln123 asterisk render` writes for admins
(ivr.asterisk.manager.render_user: its classes, event filters, permit and writetimeout),
with the instance's own secret: the tests run with the privileges a server deploys.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ivr.asterisk.errors import RenderError
from ivr.asterisk.manager import MANAGER_FILE, render_user
from ivr.dialplan import DialplanError, render_site
from ivr.settings import AMISettings, IVRSettings, Site, TelephonyConfig
from pln123.config import ConfigError, load_config
from pln123.config.model import Config
from tools.sandbox.errors import SandboxError

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "deploy" / "sandbox"
DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "config" / "pln.yaml"
# What deploy/sandbox/extensions.conf #includes (relative to the instance's etc/).
DIALPLAN_FILE = "pln123-dialplan.conf"
# What deploy/sandbox/iax.conf #includes: the site's inter-site trunks (tools/sandbox/trunks.py).
TRUNK_FILE = "pln123-iax.conf"
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z][a-z0-9_]*)\s*\}\}")
_SAFE_VALUE = re.compile(r"[A-Za-z0-9_./:-]*")
# The AMI user pln123 (and the tests) log in as; its section comes from render_user.
SANDBOX_AMI_USER = "pln123"
# Readable only by root and the asterisk group: the AMI secrets, the agents' SIP passwords.
SECRET_FILES = frozenset({"manager.conf", "pjsip.conf"})
PJSIP_TEMPLATE = "pjsip.conf"


@dataclass(frozen=True)
class SiteSettings:
    """Everything that differs between two instances; paths are as seen inside the root."""

    site: str
    instance_dir: str
    module_dir: str
    ami_port: int
    iax_port: int
    pln123_secret: str
    admin_secret: str

    def values(self) -> dict[str, str]:
        return {
            "site": self.site,
            "instance_dir": self.instance_dir,
            "module_dir": self.module_dir,
            "ami_port": str(self.ami_port),
            "iax_port": str(self.iax_port),
            "pln123_secret": self.pln123_secret,
            "admin_secret": self.admin_secret,
        }


def render_template(text: str, values: Mapping[str, str], name: str = "template") -> str:
    for key, value in values.items():
        if not _SAFE_VALUE.fullmatch(value):
            raise SandboxError(f"unsafe value for {{{{{key}}}}} in {name}: {value!r}")

    def substitute(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise SandboxError(f"{name} uses {{{{{key}}}}}, which the sandbox does not define")
        return values[key]

    rendered = _PLACEHOLDER.sub(substitute, text)
    if "{{" in rendered or "}}" in rendered:
        raise SandboxError(f"{name} has a malformed {{{{placeholder}}}}")
    return rendered


def render_site_config(
    settings: SiteSettings, template_dir: Path = TEMPLATE_DIR, dialplan: str | None = None,
    manager_user: str | None = None, sip: str | None = None,
) -> dict[str, str]:
    """File name -> rendered text, for every `*.conf` template, plus the included dialplan
    (`dialplan`, or a comment-only stand-in so the #include always finds its file),
    `manager_user` (the rendered pln123 AMI user section) appended to manager.conf and
    `sip` (an instance with SIP: its transport and endpoints) appended to pjsip.conf."""
    templates = sorted(template_dir.glob("*.conf"))
    if not templates:
        raise SandboxError(
            f"no Asterisk config templates in {template_dir}; the sandbox runs from a source "
            "checkout of pln123 (pip install -e .)"
        )
    values = settings.values()
    files = {path.name: render_template(path.read_text(), values, path.name) for path in templates}
    for generated in (DIALPLAN_FILE, TRUNK_FILE):
        if generated in files:
            raise SandboxError(f"{template_dir}/{generated} would hide a rendered file")
    if manager_user is not None:
        if MANAGER_FILE not in files:
            raise SandboxError(f"{template_dir} has no {MANAGER_FILE} for the pln123 user")
        files[MANAGER_FILE] = files[MANAGER_FILE].rstrip("\n") + "\n\n" + manager_user
    if sip is not None:
        if PJSIP_TEMPLATE not in files:
            raise SandboxError(f"{template_dir} has no {PJSIP_TEMPLATE} for the SIP endpoints")
        files[PJSIP_TEMPLATE] = files[PJSIP_TEMPLATE].rstrip("\n") + "\n\n" + sip
    files[DIALPLAN_FILE] = dialplan if dialplan is not None else _stand_in(
        settings.site, "no dialplan was rendered")
    # Written again by trunks.join_trunks once the session's other instances are known.
    files[TRUNK_FILE] = _stand_in(settings.site, "no other instance joined yet", "trunks")
    return files


def site_dialplan(site: str, config_file: Path = DEFAULT_CONFIG) -> tuple[str, str | None]:
    """The site's rendered pln123 dialplan, or a stand-in and the warning to show.

    A site missing from the config (a test site such as `alpha`) simply has no pln123
    contexts. An invalid config warns instead of failing `up`: the AMI and trunk tests need
    no IVR dialplan, and the dialplan tests then fail on the missing context with this
    warning in their output.
    """
    try:
        config = load_config(config_file)
    except ConfigError as error:
        return _stand_in(site, "the admin config is invalid"), (
            f"{config_file} is invalid ({len(error.problems)} problems; run pln123 config "
            f"check {config_file}): site {site} runs without the pln123 dialplan")
    if site not in config.sites:
        return _stand_in(site, "the site is not in the admin config"), None
    try:
        return render_site(config, site), None
    except DialplanError as error:
        return _stand_in(site, "the dialplan could not be rendered"), (
            f"site {site} runs without the pln123 dialplan: {error}")


def site_manager_user(site: str, secret_file: Path,
                      config_file: Path = DEFAULT_CONFIG) -> str:
    """The `[pln123]` manager.conf section `pln123 asterisk render` would write for `site`,
    with the instance's secret file. A site missing from the config (a test site such as
    `alpha`), or an invalid config, gets the renderer's defaults (loopback permit)."""
    try:
        config: Config | None = load_config(config_file)
    except ConfigError:
        config = None
    ami = AMISettings("127.0.0.1", 5038, SANDBOX_AMI_USER, secret_file)
    if config is not None and site in config.sites:
        configured = config.sites[site].ami
        # The sandbox's own listener and user name; the config's permit and writetimeout.
        ami = AMISettings("127.0.0.1", 5038, SANDBOX_AMI_USER, secret_file,
                          md5=configured.md5, manager=configured.manager)
    only = TelephonyConfig(("id",), "id", {site: Site(site, "site", ami, f"pln-{site}", ())},
                           (), IVRSettings("greeting", "main"), {}, {})
    try:
        return render_user(only, site)
    except RenderError as error:
        raise SandboxError(f"site {site}: the pln123 AMI user: {error}") from error


def _stand_in(site: str, reason: str, what: str = "dialplan") -> str:
    render_template("{{site}}", {"site": site}, DIALPLAN_FILE)  # refuses an unsafe name
    return f"; pln123 sandbox: no pln123 {what} for site {site}: {reason}.\n"


def module_dir_in(root: Path) -> str:
    """Asterisk's module folder inside `root` (multiarch: /usr/lib/<triplet>/asterisk/modules)."""
    for candidate in sorted(root.glob("usr/lib/*/asterisk/modules")):
        if candidate.is_dir():
            return "/" + str(candidate.relative_to(root))
    raise SandboxError(f"no Asterisk modules folder under {root}/usr/lib; rebuild the root")
