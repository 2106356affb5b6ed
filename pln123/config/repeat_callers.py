"""`ivr.repeat_callers`: whether callers with an open ticket hear its status first, where.

    repeat_callers: {enabled: true, sites: {makassar: false}, offer_timeout: 5}

IVR-wide by default; a site listed under `sites` overrides it (a site whose APKT feed is
not live yet would read out statuses nobody updates). Every problem names its key path.
"""

from __future__ import annotations

from collections.abc import Collection

from ivr.settings import RepeatCallers
from pln123.config.reader import Reader

OFFER_TIMEOUT_S = (2.0, 30.0)


def parse_repeat_callers(ivr: Reader, sites: Collection[str]) -> RepeatCallers:
    reader = ivr.child("repeat_callers", required=False)
    enabled = reader.typed("enabled", bool, True)
    per_site: dict[str, bool] = {}
    section = reader.child("sites", required=False)
    for name, value, _path in section.pairs():
        if str(name) not in sites:
            section.error(f"site {name!r} is not in sites", str(name))
        elif not isinstance(value, bool):
            section.error(f"must be true or false, not {value!r}", str(name))
        else:
            per_site[str(name)] = value
    timeout = reader.number("offer_timeout", RepeatCallers.offer_timeout_s, *OFFER_TIMEOUT_S)
    reader.finish()
    return RepeatCallers(enabled=bool(enabled), sites=per_site, offer_timeout_s=timeout)
