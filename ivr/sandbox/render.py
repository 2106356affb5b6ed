"""Render an instance's Asterisk configuration from the templates in deploy/sandbox/.

The templates are plain Asterisk files an admin can read and diff; the only syntax added is
`{{name}}`, chosen because it cannot collide with Asterisk's `${VAR}` and `$[expr]`. Values
are checked against a narrow alphabet, so a site name or secret can never smuggle a newline
(a new config line) into a rendered file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ivr.sandbox.errors import SandboxError

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "deploy" / "sandbox"
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z][a-z0-9_]*)\s*\}\}")
_SAFE_VALUE = re.compile(r"[A-Za-z0-9_./:-]*")
# Readable only by root and the asterisk group: it holds the AMI secrets.
SECRET_FILES = frozenset({"manager.conf"})


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


def render_site_config(settings: SiteSettings, template_dir: Path = TEMPLATE_DIR) -> dict[str, str]:
    """File name -> rendered text, for every `*.conf` template."""
    templates = sorted(template_dir.glob("*.conf"))
    if not templates:
        raise SandboxError(
            f"no Asterisk config templates in {template_dir}; the sandbox runs from a source "
            "checkout of pln123 (pip install -e .)"
        )
    values = settings.values()
    return {path.name: render_template(path.read_text(), values, path.name) for path in templates}


def module_dir_in(root: Path) -> str:
    """Asterisk's module folder inside `root` (multiarch: /usr/lib/<triplet>/asterisk/modules)."""
    for candidate in sorted(root.glob("usr/lib/*/asterisk/modules")):
        if candidate.is_dir():
            return "/" + str(candidate.relative_to(root))
    raise SandboxError(f"no Asterisk modules folder under {root}/usr/lib; rebuild the root")
