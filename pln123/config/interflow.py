"""The `acd.interflow:` section: multi-site routing rules, as acd.settings values.

    interflow:
      enabled: true
      threshold_s: 60        # home EWT above this: look for a better site
      accept_s: 60           # a site takes calls in only while its own EWT is under this
      margin_s: 15           # a candidate must beat home EWT by this (seconds) ...
      margin_pct: 0          # ... and by this percentage of home EWT
      order: {palembang: [medan], ...}       # siblings per site; the hub is always last
      sites: {palembang: {threshold_s: 45, skills: {fault: {threshold_s: 30}}}}
      trunk_limit: 30        # concurrent interflowed calls per pair of sites
      trunk_limits: {palembang: {medan: 20}}
      reevaluate_s, max_moves, national_max_ewt_s, status_every_s, status_ttl_s

Every key is optional (acd.settings.InterflowSettings gives the defaults). The hub is the
site whose role is `hub`; it is never listed in `order` by hand.
"""

from __future__ import annotations

from acd.settings import InterflowRule, InterflowSettings
from pln123.config.reader import Reader

_D = InterflowSettings()
_TIMINGS: dict[str, tuple[float, float, float]] = {
    "reevaluate_s": (_D.reevaluate_s, 1, 300),
    "national_max_ewt_s": (_D.national_max_ewt_s, 10, 7200),
    "status_every_s": (_D.status_every_s, 0.2, 10),
    "status_ttl_s": (_D.status_ttl_s, 1, 60),
}


def parse_interflow(acd: Reader, sites: set[str], skills: tuple[str, ...],
                    hub: str) -> InterflowSettings:
    reader = acd.child("interflow", required=False)
    enabled = reader.typed("enabled", bool, True)
    default = _rule(reader, InterflowRule())
    timings = {key: reader.number(key, d, low, high) for key, (d, low, high) in _TIMINGS.items()}
    if timings["status_ttl_s"] <= timings["status_every_s"]:
        reader.error("must be longer than status_every_s (a status must outlive its "
                     "next publication)", "status_ttl_s")
    max_moves = reader.integer("max_moves", _D.max_moves, 1, 4)
    trunk_limit = reader.integer("trunk_limit", _D.trunk_limit, 0, 10_000)
    order = _order(reader, sites, hub)
    site_rules, rules = _site_rules(reader, sites, skills, default)
    trunk_limits = _trunk_limits(reader, sites)
    reader.finish()
    return InterflowSettings(
        enabled=bool(enabled), default=default, rules=rules, site_rules=site_rules,
        order=order, hub=hub, reevaluate_s=timings["reevaluate_s"], max_moves=max_moves,
        trunk_limit=trunk_limit, trunk_limits=trunk_limits,
        national_max_ewt_s=timings["national_max_ewt_s"],
        status_every_s=timings["status_every_s"], status_ttl_s=timings["status_ttl_s"])


def _rule(reader: Reader, base: InterflowRule) -> InterflowRule:
    return InterflowRule(
        threshold_s=reader.number("threshold_s", base.threshold_s, 0, 7200),
        accept_s=reader.number("accept_s", base.accept_s, 0, 7200),
        margin_s=reader.number("margin_s", base.margin_s, 0, 3600),
        margin_pct=reader.number("margin_pct", base.margin_pct, 0, 100))


def _site_name(reader: Reader, name: str, sites: set[str]) -> bool:
    if name not in sites:
        reader.error(f"{name!r} is not a site (sites: {', '.join(sorted(sites))})")
        return False
    return True


def _order(reader: Reader, sites: set[str], hub: str) -> dict[str, tuple[str, ...]]:
    order: dict[str, tuple[str, ...]] = {}
    if not reader.has("order"):
        return order
    section = reader.child("order")
    for site in list(section.data):
        name = str(site)
        if not _site_name(Reader({}, f"{section.path}.{name}", reader.problems), name, sites):
            section.raw(name)
            continue
        siblings = section.strings(name)
        for index, sibling in enumerate(siblings):
            where = f"{name}[{index}]"
            if sibling not in sites:
                section.error(f"{sibling!r} is not a site", where)
            elif sibling == name:
                section.error("a site cannot send calls to itself", where)
            elif sibling == hub:
                section.error(f"{hub!r} is the hub: it is always the last resort, do not "
                              "list it", where)
        if len(set(siblings)) != len(siblings):
            section.error("lists a site twice", name)
        order[name] = tuple(siblings)
    section.finish()
    return order


def _site_rules(reader: Reader, sites: set[str], skills: tuple[str, ...],
                default: InterflowRule
                ) -> tuple[dict[str, InterflowRule], dict[tuple[str, str], InterflowRule]]:
    site_rules: dict[str, InterflowRule] = {}
    rules: dict[tuple[str, str], InterflowRule] = {}
    if not reader.has("sites"):
        return site_rules, rules
    for name, site in reader.items("sites"):
        if not _site_name(site, name, sites):
            site.ignore_rest()
            continue
        site_rule = _rule(site, default)
        site_rules[name] = site_rule
        if site.has("skills"):
            for skill, skill_reader in site.items("skills"):
                if skill not in skills:
                    skill_reader.error(f"{skill!r} is not a skill (skills: {', '.join(skills)})")
                    skill_reader.ignore_rest()
                    continue
                rules[(name, skill)] = _rule(skill_reader, site_rule)
                skill_reader.finish()
        site.finish()
    return site_rules, rules


def _trunk_limits(reader: Reader, sites: set[str]) -> dict[tuple[str, str], int]:
    limits: dict[tuple[str, str], int] = {}
    if not reader.has("trunk_limits"):
        return limits
    for origin, targets in reader.items("trunk_limits"):
        if not _site_name(targets, origin, sites):
            targets.ignore_rest()
            continue
        for target in list(targets.data):
            name = str(target)
            if name not in sites or name == origin:
                targets.raw(name)
                targets.error(f"{name!r} is not another site", name)
                continue
            limits[(origin, name)] = targets.integer(name, None, 0, 10_000)
        targets.finish()
    return limits
