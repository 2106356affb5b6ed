"""The IAX2 trunks between the instances of one sandbox namespace.

The rendered dialplan dials the config's peer names (`IAX2/pln-jakarta/...`). In the
sandbox every instance listens on its own loopback port, so each instance gets the real
trunk include (ivr.asterisk.render_iax) with `peers_override` = the OTHER instances of the
namespace at 127.0.0.1:<their iax port>. Sites start lazily in tests, so whenever an
instance joins, every instance's file is rendered again and a running Asterisk whose file
changed is told `iax2 reload`.

Instances that are stopped keep their place: they restart on their recorded port, so a
peer pointing at them stays right. A site that is not in the admin config (a test site
such as `alpha`) gets a comment-only file and is nobody's peer.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ivr.asterisk import render_iax
from ivr.dialplan import DialplanError
from pln123.config import ConfigError, load_config
from tools.sandbox.instance import Instance
from tools.sandbox.ports import LOOPBACK
from tools.sandbox.render import TRUNK_FILE

RELOAD = "iax2 reload"


def trunk_text(instance: Instance, others: Sequence[Instance]) -> tuple[str, str | None]:
    """The include for `instance`, and a warning when it could not be rendered."""
    site = instance.site
    try:
        config = load_config(instance.config_file)
    except ConfigError as error:
        return _stand_in(site, "the admin config is invalid"), (
            f"{instance.config_file} is invalid ({len(error.problems)} problems): site "
            f"{site} runs without inter-site trunks")
    if site not in config.sites:
        return _stand_in(site, "the site is not in the admin config"), None
    peers = {other.site: (LOOPBACK, other.iax_port) for other in others
             if other.site != site and other.site in config.sites}
    try:
        return render_iax(config, site, peers_override=peers), None
    except DialplanError as error:
        return _stand_in(site, "the trunks could not be rendered"), (
            f"site {site} runs without inter-site trunks: {error}")


def join_trunks(instances: Sequence[Instance]) -> list[str]:
    """Write every instance's trunk include; `iax2 reload` the running ones that changed.

    Returns the sites that were reloaded (tests and the CLI report them).
    """
    reloaded = []
    for instance in instances:
        text, warning = trunk_text(instance, instances)
        if warning is not None:
            print(f"\n*** pln123 sandbox: WARNING: {warning}\n", file=sys.stderr, flush=True)
        target = instance.path / "etc" / TRUNK_FILE
        try:
            unchanged = target.read_text() == text
        except OSError:
            unchanged = False
        if unchanged:
            continue
        temp = target.with_name(TRUNK_FILE + ".tmp")
        temp.write_text(text)
        temp.chmod(0o644)
        temp.rename(target)
        if instance.is_running():
            instance.cli(RELOAD)
            reloaded.append(instance.site)
    return reloaded


def _stand_in(site: str, reason: str) -> str:
    return f"; pln123 sandbox: no pln123 trunks for site {site}: {reason}.\n"
