"""The admin config: one YAML file for every site, validated with key paths."""

from pln123.config.loader import load_config, parse_config
from pln123.config.model import (
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
from pln123.config.reader import ConfigError, Problem

__all__ = [
    "AMISettings",
    "Action",
    "AreaCode",
    "Config",
    "ConfigError",
    "IVRSettings",
    "Menu",
    "Problem",
    "Prompt",
    "RedisSettings",
    "Site",
    "load_config",
    "parse_config",
]
