"""Loading and validating the admin config (one YAML file for every site).

`load_config` either returns a complete `Config` or raises `ConfigError` listing every
problem with its key path: unknown keys, wrong types, an area code served twice, a menu
option pointing nowhere, a prompt missing from the catalogue, a secret file that is not
there. The ACD's `acd:` section and `agents:` roster are read by `pln123/config/acd.py`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from acd.store.topology import UnsupportedTopology, check_url
from ivr.prompts.catalogue import FRAGMENT_PREFIXES, RECORDING_NOTICE, REQUIRED_PROMPTS
from pln123.config.acd import parse_acd
from pln123.config.apkt import parse_apkt
from pln123.config.asterisk import parse_ami_manager, parse_asterisk
from pln123.config.dashboard import parse_dashboard
from pln123.config.desktop import parse_desktop
from pln123.config.history import parse_history
from pln123.config.model import (
    FLOWS,
    Action,
    AMISettings,
    AreaCode,
    Config,
    IVRSettings,
    Menu,
    Prompt,
    RedisSettings,
    Site,
)
from pln123.config.reader import ConfigError, Problem, Reader, join
from pln123.config.recording import parse_recording
from pln123.config.repeat_callers import parse_repeat_callers
from pln123.config.sip import parse_sip
from pln123.config.trunk import parse_trunk
from pln123.config.yaml_file import read_yaml

AREA_CODE = re.compile(r"0[1-9][0-9]{1,3}\Z")
NAME = re.compile(r"[a-z][a-z0-9_-]{0,30}\Z")
# Region names end up in comments of the rendered dialplan: letters, digits, a few marks.
REGION = re.compile(r"[A-Za-z0-9][A-Za-z0-9 .,'()-]{0,59}\Z")
PEER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}\Z")
HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:-]{0,252}\Z")
AMI_USER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}\Z")
PROMPT_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}\Z")
LANGUAGE = re.compile(r"[a-z]{2}\Z")
KEYS = frozenset("0123456789*#")
_SIMPLE_ACTIONS = ("repeat", "back", "hangup")
_TARGET_ACTIONS = ("submenu", "flow", "queue", "play", "language")


def load_config(path: Path | str) -> Config:
    """The validated config in `path`, or ConfigError listing every problem."""
    return parse_config(read_yaml(path), Path(path))


def parse_config(data: Any, path: Path) -> Config:
    """Validate parsed YAML; `path` anchors relative secret files."""
    if not isinstance(data, dict):
        # Every section would be "required" too: one line says it better.
        what = "the file is empty" if data is None else "must be a mapping of sections"
        raise ConfigError([Problem("", what)])
    problems: list[Problem] = []
    top = Reader(data, "", problems)
    before = len(problems)
    languages = _names(top, "languages", LANGUAGE, "a two-letter language code")
    languages_ok = len(problems) == before
    default_language = top.text("default_language", "id")
    if languages and default_language not in languages:
        top.error(f"{default_language!r} is not in languages", "default_language")
    skills = _names(top, "skills", NAME, "a skill name ([a-z][a-z0-9_-]*)")
    regions = _regions(top)
    sites = _sites(top, path.parent, regions)
    prompts = _prompts(top, languages, languages_ok)
    menus = _menus(top, skills, languages)
    ivr = _ivr(top, skills, languages, tuple(sites))
    redis = _redis(top.child("redis", required=False), path.parent)
    hubs = [name for name, site in sites.items() if site.role == "hub"]
    hub = hubs[0] if len(hubs) == 1 else ""  # two hubs: reported once, by _cross_check
    acd = parse_acd(top, list(sites), skills, hub)
    asterisk = parse_asterisk(top, path.parent)
    dashboard = parse_dashboard(top, path.parent, set(sites))
    desktop = parse_desktop(top, {agent.id: agent.site for agent in acd.agents})
    apkt = parse_apkt(top, path.parent)
    history = parse_history(top, path.parent)
    recording = parse_recording(top)
    top.finish()
    config = Config(languages=languages, default_language=default_language, sites=sites,
                    skills=skills, ivr=ivr, menus=menus, prompts=prompts, asterisk=asterisk,
                    path=path, redis=redis, acd=acd, dashboard=dashboard, desktop=desktop,
                    apkt=apkt, history=history, recording=recording)
    _cross_check(config, problems)
    if problems:
        raise ConfigError(sorted(set(problems), key=lambda p: (p.path, p.message)))
    return config


def _names(top: Reader, key: str, pattern: re.Pattern[str], what: str) -> tuple[str, ...]:
    """A list of names, each matching `pattern`, none twice."""
    names: list[str] = []
    for index, name in enumerate(top.strings(key)):
        if not pattern.match(name):
            top.error(f"{name!r} is not {what}", f"{key}[{index}]")
        elif name in names:
            top.error(f"{name!r} is listed twice", f"{key}[{index}]")
        else:
            names.append(name)
    return tuple(names)


def _unquoted(code: Any) -> str:
    # YAML 1.1 reads an unquoted 0711 as the octal number 457, and 0791 as a string.
    return f"{code!r} is a number, not an area code: quote it (YAML reads 0711 as 457)"


def _regions(top: Reader) -> dict[str, str]:
    section = top.child("regions")
    regions: dict[str, str] = {}
    for code, name in section.data.items():
        key = str(code)
        section._seen.add(key)
        if isinstance(code, int):
            section.error(_unquoted(code), key)
            code = f"0{code:o}"  # what was probably written, so sites see no second problem
        elif not isinstance(code, str) or not AREA_CODE.match(code):
            section.error(f"{key!r} is not an area code", key)
        if not isinstance(name, str) or not REGION.match(name):
            section.error(f"{name!r} is not a region name (letters, digits, spaces, .,'()-)",
                          key)
        # Recorded even when wrong: the config is refused anyway, and sites serving this
        # code should not report a second, misleading "no entry in regions".
        regions[str(code)] = str(name)
    section.finish()
    return regions


def _sites(top: Reader, base: Path, regions: dict[str, str]) -> dict[str, Site]:
    sites: dict[str, Site] = {}
    served: dict[str, str] = {}
    peers: dict[str, str] = {}  # IAX2 peer name -> the site it names
    without_trunk: list[str] = []
    hubs: list[str] = []
    for name, reader in top.items("sites"):
        if not NAME.match(name):
            reader.error(f"{name!r} is not a site name ([a-z][a-z0-9_-]*)")
        role = reader.text("role", "site")
        if role not in ("site", "hub"):
            reader.error(f"must be 'site' or 'hub', not {role!r}", "role")
        if role == "hub":
            hubs.append(name)
        ami = _ami(reader.child("ami"), base)
        peer = reader.text("iax2_peer")
        if peer and not PEER.match(peer):
            reader.error(f"{peer!r} is not an IAX2 peer name ([A-Za-z0-9_.-])", "iax2_peer")
        elif peer and peer in peers:
            reader.error(f"{peer!r} is already the peer name of site {peers[peer]!r}",
                         "iax2_peer")
        peers.setdefault(peer, name)
        iax2 = parse_trunk(reader.child("iax2")) if reader.has("iax2") else None
        if iax2 is None and not reader.broken:
            without_trunk.append(name)
        areas: list[AreaCode] = []
        for _index, code, path in reader.entries("area_codes"):
            if isinstance(code, int):
                reader.problems.append(Problem(path, _unquoted(code)))
                continue
            if not isinstance(code, str) or not AREA_CODE.match(code):
                reader.problems.append(Problem(path, f"{code!r} is not an area code"))
                continue
            if code in served:
                reader.problems.append(Problem(path, f"{code} is already served by site "
                                                     f"{served[code]!r}"))
                continue
            served[code] = name
            if code not in regions:
                reader.problems.append(Problem(path, f"{code} has no entry in regions"))
            areas.append(AreaCode(code, regions.get(code, code)))
        if reader.raw("area_codes") == []:
            reader.error("must list at least one area code", "area_codes")
        sip = (parse_sip(reader.child("sip"), tuple(a.code for a in areas))
               if reader.has("sip") else None)
        reader.finish()
        sites[name] = Site(name, "hub" if role == "hub" else "site", ami, peer, tuple(areas),
                           iax2, sip)
    if len(hubs) > 1:
        top.error(f"only one site can be the hub, not {', '.join(hubs)}", "sites")
    if len(sites) > 1:
        for name in without_trunk:
                top.error("is required when the config has more than one site (the other "
                          "sites' trunks send calls to it)", f"sites.{name}.iax2")
    return sites


def _ami(reader: Reader, base: Path) -> AMISettings:
    host = reader.text("host", "127.0.0.1")
    if host and not HOST.match(host):
        reader.error(f"{host!r} is not a host name or address", "host")
    port = reader.integer("port", 5038, 1, 65535)
    user = reader.text("user")
    if user and not AMI_USER.match(user):
        reader.error(f"{user!r} is not an AMI user name", "user")
    secret_text = reader.text("secret_file")
    secret_file = (base / secret_text) if secret_text else base
    if secret_text and not secret_file.is_file():
        reader.error(f"{secret_file} does not exist", "secret_file")
    md5 = bool(reader.typed("md5", bool, False))
    manager = parse_ami_manager(reader, base, host)
    reader.finish()
    return AMISettings(host, port, user, secret_file, md5, manager)


def _redis(reader: Reader, base: Path) -> RedisSettings:
    url = reader.text("url", "redis://127.0.0.1:6379/0")
    try:
        check_url(url)  # one server, redis+sentinel:// or redis+cluster://, in full
    except UnsupportedTopology as error:
        reader.error(str(error), "url")
    else:
        if "@" in url.partition("//")[2].split("/", 1)[0]:
            reader.error("put the password in password_file, not in the URL", "url")
    password_text = reader.text("password_file", "") if reader.has("password_file") else ""
    password_file = base / password_text if password_text else None
    if password_file is not None and not password_file.is_file():
        reader.error(f"{password_file} does not exist", "password_file")
    reader.finish()
    return RedisSettings(url, password_file)


def _prompts(top: Reader, languages: tuple[str, ...], languages_ok: bool) -> dict[str, Prompt]:
    prompts: dict[str, Prompt] = {}
    for prompt_id, reader in top.items("prompts"):
        if not PROMPT_ID.match(prompt_id):
            reader.error(f"{prompt_id!r} is not a prompt id ([a-z0-9_-])")
        elif prompt_id.startswith(FRAGMENT_PREFIXES):
            reader.error(f"{prompt_id!r}: ids starting with {' or '.join(FRAGMENT_PREFIXES)} "
                         "are the built-in number fragments")
        texts = {language: reader.text(language) for language in languages}
        if not languages_ok:
            reader.ignore_rest()  # `languages` is broken: that one problem says it all
        reader.finish()
        prompts[prompt_id] = Prompt(prompt_id, texts)
    return prompts


def _action(value: Any, path: str, problems: list[Problem], skills: tuple[str, ...],
            languages: tuple[str, ...]) -> Action | None:
    if isinstance(value, str):
        if value in _SIMPLE_ACTIONS:
            return Action(value)  # type: ignore[arg-type]
        problems.append(Problem(path, f"{value!r} is not an action "
                                      f"({', '.join(_SIMPLE_ACTIONS + _TARGET_ACTIONS)})"))
        return None
    reader = Reader(value, path, problems)
    kinds = [k for k in _TARGET_ACTIONS if reader.has(k)]
    if len(kinds) != 1:
        reader.error(f"needs exactly one of {', '.join(_TARGET_ACTIONS)}")
        return None
    kind = kinds[0]
    target = reader.text(kind)
    priority = reader.integer("priority", 5, 1, 9) if kind == "queue" else 5
    category = reader.text("category", "gangguan") if kind == "flow" else None
    if category is not None and not NAME.match(category):
        # It is stored with every ticket and must pass the ticket desk's name rule.
        reader.error(f"{category!r} is not a category name ([a-z][a-z0-9_-]*)", "category")
    reader.finish()
    if kind == "queue":
        if target and target not in skills:
            reader.error(f"{target!r} is not a skill (skills: {', '.join(skills)})", "queue")
        return Action("queue", skill=target, priority=priority)
    if kind == "flow" and target and target not in FLOWS:
        reader.error(f"{target!r} is not a flow ({', '.join(FLOWS)})", "flow")
    if kind == "language" and target and target not in languages:
        reader.error(f"{target!r} is not in languages", "language")
    return Action(kind, target=target, category=category)  # type: ignore[arg-type]


def _menus(top: Reader, skills: tuple[str, ...], languages: tuple[str, ...]) -> dict[str, Menu]:
    menus: dict[str, Menu] = {}
    for name, reader in top.items("menus"):
        if not NAME.match(name):
            reader.error(f"{name!r} is not a menu name")
        prompt = reader.text("prompt")
        timeout = reader.number("timeout", 5.0, 1.0, 30.0)
        retries = reader.integer("retries", 3, 1, 9)
        options: dict[str, Action] = {}
        section = reader.child("options")
        for key in list(section.data):
            digit = str(key)
            section._seen.add(digit)
            path = join(section.path, digit)
            if digit not in KEYS:
                section.error(f"{digit!r} is not a phone key (0-9, *, #)", digit)
                continue
            action = _action(section.data[key], path, reader.problems, skills, languages)
            if action is not None:
                options[digit] = action
        failure = Action("queue", skill="general")
        if reader.has("on_failure"):
            parsed = _action(reader.raw("on_failure"), join(reader.path, "on_failure"),
                             reader.problems, skills, languages)
            failure = parsed or failure
        reader.finish()
        menus[name] = Menu(name, prompt, options, timeout, retries, failure)
    return menus


def _ivr(top: Reader, skills: tuple[str, ...], languages: tuple[str, ...],
         sites: tuple[str, ...] = ()) -> IVRSettings:
    reader = top.child("ivr")
    keys = {k: reader.text(k, d) for k, d in
            (("english_key", "9"), ("back_key", "*"), ("agent_key", "0"))}
    for key, value in keys.items():
        if value not in KEYS:
            reader.error(f"{value!r} is not a phone key", key)
    agent = Action("queue", skill="general")
    if reader.has("agent"):
        agent = _action(reader.raw("agent"), join(reader.path, "agent"), reader.problems,
                        skills, languages) or agent
    idpel = reader.child("idpel", required=False)
    settings = IVRSettings(
        greeting=reader.text("greeting"),
        root_menu=reader.text("root_menu"),
        english_key=keys["english_key"],
        back_key=keys["back_key"],
        agent_key=keys["agent_key"],
        agent=agent,
        idpel_timeout_s=idpel.number("timeout", 15.0, 3.0, 60.0),
        idpel_retries=idpel.integer("retries", 3, 1, 9),
        handoff_timeout_s=reader.number("handoff_timeout_s", IVRSettings.handoff_timeout_s,
                                        10.0, 3600.0),
        repeat_callers=parse_repeat_callers(reader, sites),
    )
    idpel.finish()
    reader.finish()
    return settings


def _cross_check(config: Config, problems: list[Problem]) -> None:
    """References between sections: menus, prompts, reserved keys."""

    def need_prompt(prompt_id: str, path: str) -> None:
        if prompt_id and prompt_id not in config.prompts:
            problems.append(Problem(path, f"prompt {prompt_id!r} is not in the catalogue"))

    def need_target(action: Action, path: str) -> None:
        if action.kind == "submenu" and action.target not in config.menus:
            problems.append(Problem(path, f"menu {action.target!r} does not exist"))
        if action.kind == "play" and action.target:
            need_prompt(action.target, path)

    ivr = config.ivr
    need_prompt(ivr.greeting, "ivr.greeting")
    need_target(ivr.agent, "ivr.agent")
    if ivr.root_menu and ivr.root_menu not in config.menus:
        problems.append(Problem("ivr.root_menu", f"menu {ivr.root_menu!r} does not exist"))
    for prompt_id in REQUIRED_PROMPTS:
        need_prompt(prompt_id, "prompts")
    for skill, queue in config.acd.queues.items():
        if queue.record:   # the caller is told before a word is recorded
            need_prompt(RECORDING_NOTICE, f"acd.queues.{skill}.record")
            if config.recording is None:
                problems.append(Problem(f"acd.queues.{skill}.record",
                                        "recording needs a recording: section (directory)"))
    reserved = {ivr.back_key: "back_key", ivr.agent_key: "agent_key"}
    for name, menu in config.menus.items():
        base = f"menus.{name}"
        need_prompt(menu.prompt, f"{base}.prompt")
        for digit, action in [*menu.options.items(), ("on_failure", menu.on_failure)]:
            path = f"{base}.options.{digit}" if digit != "on_failure" else f"{base}.on_failure"
            if digit in reserved:
                problems.append(Problem(path, f"{digit!r} is ivr.{reserved[digit]} in every "
                                              "menu; choose another key"))
            need_target(action, path)
