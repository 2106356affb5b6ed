"""The demo's and the load test's admin config: the shipped file plus overrides, as a new file.

Why a generated file: `pln123 serve` and `pln123 dashboard` are run exactly as in
production (a config file on the command line), but the demo needs Local-channel agents,
a small fixed pooling reserve and short wrap-ups. The shipped deploy/config/pln.yaml is
never edited; the overlay is written into the run's own temporary folder, with every
relative path (secret files, the wallboard token) made absolute so it still resolves from
there.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from pln123.config import Config, ConfigError, load_config

REPO = Path(__file__).resolve().parents[2]
SHIPPED_CONFIG = REPO / "deploy" / "config" / "pln.yaml"
_PATH_KEYS = ("secret_file", "password_file", "agent_secrets_file", "wallboard_token_file",
              "cert", "key", "ca", "ca_file", "cert_file", "key_file")


def absolute_paths(node: Any, base: Path) -> Any:
    """A copy of `node` with every relative path value (keys in _PATH_KEYS) made absolute."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in _PATH_KEYS and isinstance(value, str) and not Path(value).is_absolute():
                out[key] = str(base / value)
            else:
                out[key] = absolute_paths(value, base)
        return out
    if isinstance(node, list):
        return [absolute_paths(item, base) for item in node]
    return node


def merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `overrides` laid over it: mappings merge key by key, anything else replaces."""
    out = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def agents_on(data: Mapping[str, Any], context: str,
              per_site: Mapping[str, int] | None = None) -> list[dict[str, Any]]:
    """The roster with every endpoint `Local/<id>@<context>` (a sandbox agent's phone).

    `per_site` keeps only the first N agents of each site named in it (others unchanged).
    """
    kept: dict[str, int] = {}
    roster = []
    for entry in data.get("agents", []):
        site = entry["site"]
        kept[site] = kept.get(site, 0) + 1
        if per_site is not None and site in per_site and kept[site] > per_site[site]:
            continue
        roster.append({**entry, "endpoint": f"Local/{entry['id']}@{context}"})
    return roster


def write_overlay(target: Path, overrides: Mapping[str, Any],
                  source: Path = SHIPPED_CONFIG) -> Config:
    """Write `source` + `overrides` to `target` and load it (validated, key-path errors)."""
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    data = absolute_paths(merge(data, overrides), source.parent.resolve())
    target.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                      encoding="utf-8")
    target.chmod(0o600)
    return load_config(target)


__all__ = ["SHIPPED_CONFIG", "ConfigError", "absolute_paths", "agents_on", "merge",
           "write_overlay"]
