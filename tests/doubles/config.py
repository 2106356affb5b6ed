"""The shipped deploy/config/pln.yaml as data, for tests that change one value of it.

Two ways to write the changed copy: `write_config` puts a copy of the shipped secrets
folder beside it (the file is checked exactly as shipped, relative paths and all);
`shipped_data` names the secret files by absolute path, so `write` can put it anywhere.

The file is parsed once and copied for each test, and written with libyaml where it is
installed (the same text as PyYAML's own emitter, several times faster): the config
tests change it a hundred times, and the quick inner loop should not wait on YAML.
"""

from __future__ import annotations

import copy
import shutil
from functools import cache
from pathlib import Path
from typing import Any

import yaml

SHIPPED = Path(__file__).resolve().parents[2] / "deploy" / "config" / "pln.yaml"

Data = dict[str, Any]
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@cache
def _parsed() -> Data:
    data: Data = yaml.load(SHIPPED.read_text(encoding="utf-8"), Loader=_Loader)
    return data


def dump(data: Data, **options: Any) -> str:
    """`yaml.safe_dump`, with libyaml where it is installed."""
    text: str = yaml.dump(data, Dumper=_Dumper, allow_unicode=True, **options)
    return text


def shipped() -> Data:
    """A fresh copy of the shipped file's data, the test's to change."""
    return copy.deepcopy(_parsed())


def write_config(folder: Path, data: Data | str | bytes) -> Path:
    """The config at folder/pln.yaml with the shipped secrets beside it."""
    secrets = folder / "secrets"
    if not secrets.exists():
        shutil.copytree(SHIPPED.parent / "secrets", secrets)
    path = folder / "pln.yaml"
    if isinstance(data, bytes):
        path.write_bytes(data)
    elif isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_text(dump(data, sort_keys=False), encoding="utf-8")
    return path


def shipped_data() -> Data:
    data = shipped()
    for site in data["sites"].values():
        site["ami"]["secret_file"] = str(SHIPPED.parent / site["ami"]["secret_file"])
    token = data["dashboard"]["wallboard_token_file"]
    data["dashboard"]["wallboard_token_file"] = str(SHIPPED.parent / token)
    return data


def write(path: Path, data: Data) -> Path:
    path.write_text(dump(data), encoding="utf-8")
    return path
