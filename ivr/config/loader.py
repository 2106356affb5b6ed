"""Loading and validating the admin config (one YAML file for every site).

`load_config` either returns a complete `Config` or raises `ConfigError` listing every
problem with its key path: unknown keys, wrong types, an area code served twice, a menu
option pointing nowhere, a prompt missing from the catalogue, a secret file that is not
there.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from ivr.config.model import (
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
from ivr.config.reader import ConfigError, Problem, Reader, join
from ivr.prompts.catalogue import REQUIRED_PROMPTS

AREA_CODE = re.compile(r"0[1-9][0-9]{1,3}\Z")
NAME = re.compile(r"[a-z][a-z0-9_-]{0,30}\Z")
PROMPT_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}\Z")
LANGUAGE = re.compile(r"[a-z]{2}\Z")
KEYS = frozenset("0123456789*#")
_SIMPLE_ACTIONS = ("repeat", "back", "hangup")
_TARGET_ACTIONS = ("submenu", "flow", "queue", "play", "language")


def load_config(path: Path | str) -> Config:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError([Problem("", f"cannot read {path}: {err.strerror}")]) from err
    except yaml.YAMLError as err:
        raise ConfigError([Problem("", f"not valid YAML: {err}")]) from err
    return parse_config(data, path)


def parse_config(data: Any, path: Path) -> Config:
    problems: list[Problem] = []
    top = Reader(data, "", problems)
    languages = tuple(top.strings("languages"))
    for index, language in enumerate(languages):
        if not LANGUAGE.match(language):
            top.error(f"{language!r} is not a two-letter language code", f"languages[{index}]")
    default_language = top.text("default_language", "id")
    if languages and default_language not in languages:
        top.error(f"{default_language!r} is not in languages", "default_language")
    skills = tuple(top.strings("skills"))
    regions = _regions(top)
    sites = _sites(top, path.parent, regions)
    prompts = _prompts(top, languages)
    menus = _menus(top, skills, languages)
    ivr = _ivr(top, skills, languages)
    redis = _redis(top.child("redis", required=False), path.parent)
    top.finish()
    config = Config(path, languages, default_language, sites, skills, ivr, menus, prompts,
                    redis)
    _cross_check(config, problems)
    if problems:
        raise ConfigError(sorted(set(problems), key=lambda p: (p.path, p.message)))
    return config


def _regions(top: Reader) -> dict[str, str]:
    section = top.child("regions")
    regions: dict[str, str] = {}
    for code in list(section.data):
        key = str(code)
        if not AREA_CODE.match(key):
            section.error(f"{key!r} is not an area code (quote it: '0711')", key)
        regions[key] = section.text(key)
    section.finish()
    return regions


def _sites(top: Reader, base: Path, regions: dict[str, str]) -> dict[str, Site]:
    sites: dict[str, Site] = {}
    served: dict[str, str] = {}
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
        areas: list[AreaCode] = []
        for _index, code, path in reader.entries("area_codes"):
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
        if not areas and reader.has("area_codes"):
            reader.error("must list at least one area code", "area_codes")
        reader.finish()
        sites[name] = Site(name, "hub" if role == "hub" else "site", ami, peer, tuple(areas))
    if len(hubs) > 1:
        top.error(f"only one site can be the hub, not {', '.join(hubs)}", "sites")
    return sites


def _ami(reader: Reader, base: Path) -> AMISettings:
    host = reader.text("host", "127.0.0.1")
    port = reader.integer("port", 5038, 1, 65535)
    user = reader.text("user")
    secret_text = reader.text("secret_file")
    secret_file = (base / secret_text) if secret_text else base
    if secret_text and not secret_file.is_file():
        reader.error(f"{secret_file} does not exist", "secret_file")
    md5 = bool(reader.typed("md5", bool, False))
    reader.finish()
    return AMISettings(host, port, user, secret_file, md5)


def _redis(reader: Reader, base: Path) -> RedisSettings:
    url = reader.text("url", "redis://127.0.0.1:6379/0")
    if not url.startswith(("redis://", "rediss://", "unix://")):
        reader.error(f"{url!r} is not a redis://, rediss:// or unix:// URL", "url")
    elif "@" in url.split("//", 1)[1].split("/", 1)[0]:
        reader.error("put the password in password_file, not in the URL", "url")
    password_text = reader.text("password_file", "") if reader.has("password_file") else ""
    password_file = base / password_text if password_text else None
    if password_file is not None and not password_file.is_file():
        reader.error(f"{password_file} does not exist", "password_file")
    reader.finish()
    return RedisSettings(url, password_file)


def _prompts(top: Reader, languages: tuple[str, ...]) -> dict[str, Prompt]:
    prompts: dict[str, Prompt] = {}
    for prompt_id, reader in top.items("prompts"):
        if not PROMPT_ID.match(prompt_id):
            reader.error(f"{prompt_id!r} is not a prompt id ([a-z0-9_-])")
        texts = {language: reader.text(language) for language in languages}
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
    reader.finish()
    if kind == "queue":
        if target and target not in skills:
            reader.error(f"{target!r} is not a skill (skills: {', '.join(skills)})", "queue")
        return Action("queue", skill=target, priority=priority)
    if kind == "flow" and target not in FLOWS:
        reader.error(f"{target!r} is not a flow ({', '.join(FLOWS)})", "flow")
    if kind == "language" and target not in languages:
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


def _ivr(top: Reader, skills: tuple[str, ...], languages: tuple[str, ...]) -> IVRSettings:
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
    )
    idpel.finish()
    reader.finish()
    return settings


def _cross_check(config: Config, problems: list[Problem]) -> None:
    """References between sections: menus, prompts, reserved keys."""

    def need_prompt(prompt_id: str, path: str) -> None:
        if prompt_id and prompt_id not in config.prompts:
            problems.append(Problem(path, f"prompt {prompt_id!r} is not in the catalogue"))

    ivr = config.ivr
    need_prompt(ivr.greeting, "ivr.greeting")
    if ivr.root_menu and ivr.root_menu not in config.menus:
        problems.append(Problem("ivr.root_menu", f"menu {ivr.root_menu!r} does not exist"))
    for prompt_id in REQUIRED_PROMPTS:
        need_prompt(prompt_id, "prompts")
    reserved = {ivr.back_key: "back_key", ivr.agent_key: "agent_key"}
    for name, menu in config.menus.items():
        base = f"menus.{name}"
        need_prompt(menu.prompt, f"{base}.prompt")
        for digit, action in [*menu.options.items(), ("on_failure", menu.on_failure)]:
            path = f"{base}.options.{digit}" if digit != "on_failure" else f"{base}.on_failure"
            if digit in reserved:
                problems.append(Problem(path, f"{digit!r} is ivr.{reserved[digit]} in every "
                                              "menu; choose another key"))
            if action.kind == "submenu" and action.target not in config.menus:
                problems.append(Problem(path, f"menu {action.target!r} does not exist"))
            if action.kind == "play" and action.target:
                need_prompt(action.target, path)
