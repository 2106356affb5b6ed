"""Mirror detection from apt sources: both file formats, and what must not be chosen."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.sandbox.errors import SandboxError
from tools.sandbox.mirror import find_debian_mirror, parse_deb822, parse_one_line

DEB822_DEBIAN = """\
Types: deb
# a comment inside the paragraph
URIs: http://mirror.example.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example.org/debian-security
Suites: bookworm-security
Components: main
"""

DEB822_VENDOR = """\
Types: deb
URIs: https://vendor.example.com/node_20.x
Suites: nodistro
Components: main
"""


def apt_dir(tmp_path: Path, files: dict[str, str], main: str | None = None) -> Path:
    parts = tmp_path / "sources.list.d"
    parts.mkdir()
    for name, text in files.items():
        (parts / name).write_text(text)
    if main is not None:
        (tmp_path / "sources.list").write_text(main)
    return tmp_path


def test_deb822_debian_archive(tmp_path: Path) -> None:
    directory = apt_dir(tmp_path, {"debian.sources": DEB822_DEBIAN})
    assert find_debian_mirror(directory) == "http://mirror.example.org/debian"


def test_one_line_format_with_options_and_trailing_slash(tmp_path: Path) -> None:
    main = (
        "# deb http://old.example.org/debian bookworm main\n"
        "deb-src http://src.example.org/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] https://mirror.example.net/debian/"
        " bookworm main contrib\n"
    )
    assert find_debian_mirror(apt_dir(tmp_path, {}, main)) == "https://mirror.example.net/debian"


def test_third_party_and_security_repos_are_ignored(tmp_path: Path) -> None:
    files = {
        "a-vendor.sources": DEB822_VENDOR,
        "b-security.list": (
            "deb http://security.example.org/debian-security bookworm-security main\n"
        ),
        "c-docker.list": (
            "deb [arch=amd64] https://download.example.com/linux/debian bookworm stable\n"
        ),
        "d-cloud.list": "deb https://packages.example.com/apt cloud-sdk main\n",
        "e-debian.list": "deb http://mirror.example.org/debian bookworm main\n",
    }
    assert find_debian_mirror(apt_dir(tmp_path, files)) == "http://mirror.example.org/debian"


def test_disabled_files_and_paragraphs_are_ignored(tmp_path: Path) -> None:
    files = {
        "a.list.disabled": "deb http://wrong.example.org/debian bookworm main\n",
        "b.sources": "Types: deb\nURIs: http://off.example.org/debian\nSuites: sid\n"
        "Components: main\nEnabled: no\n",
        "c.sources": "Types: deb-src\nURIs: http://src.example.org/debian\nSuites: sid\n"
        "Components: main\n",
        "d.sources": DEB822_DEBIAN.replace("mirror.example.org", "right.example.org"),
    }
    assert find_debian_mirror(apt_dir(tmp_path, files)) == "http://right.example.org/debian"


def test_sources_list_comes_before_sources_list_d(tmp_path: Path) -> None:
    directory = apt_dir(
        tmp_path,
        {"debian.sources": DEB822_DEBIAN},
        main="deb http://first.example.org/debian sid main\n",
    )
    assert find_debian_mirror(directory) == "http://first.example.org/debian"


def test_no_mirror_names_the_override(tmp_path: Path) -> None:
    directory = apt_dir(tmp_path, {"vendor.sources": DEB822_VENDOR})
    with pytest.raises(SandboxError, match="--mirror"):
        find_debian_mirror(directory)


def test_missing_apt_dir_is_not_a_crash(tmp_path: Path) -> None:
    with pytest.raises(SandboxError):
        find_debian_mirror(tmp_path / "nothing")


def test_deb822_continuation_lines_and_several_uris() -> None:
    text = "Types: deb\nURIs: http://a.example.org/debian\n http://b.example.org/debian\n"
    text += "Suites: sid\nComponents: main\n"
    uris = [source.uri for source in parse_deb822(text, "x")]
    assert uris == ["http://a.example.org/debian", "http://b.example.org/debian"]


def test_one_line_parser_skips_malformed_lines() -> None:
    assert list(parse_one_line("deb\ndeb http://only-uri.example.org/debian\n", "x")) == []
