"""Asterisk configuration beside the dialplan, rendered from the admin config.

`iax.render_iax` gives a site's inter-site IAX2 trunk include (peers and the trunk user).
"""

from ivr.asterisk.iax import TRUNK_USER, render_iax

__all__ = ["TRUNK_USER", "render_iax"]
