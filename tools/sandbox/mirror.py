"""Find the Debian archive mirror this machine already uses.

The sandbox root is built from the same mirror apt uses here, read at run time, so the
project never names a mirror host: machines behind a local mirror or proxy keep working,
and nothing in the repository goes stale when a mirror moves.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from tools.sandbox.errors import SandboxError

APT_DIR = Path("/etc/apt")


@dataclass(frozen=True)
class AptSource:
    """One `deb` entry, whichever of apt's two file formats it came from."""

    types: tuple[str, ...]
    uri: str
    suites: tuple[str, ...]
    components: tuple[str, ...]
    origin: str


def parse_one_line(text: str, origin: str) -> Iterator[AptSource]:
    """Entries of a `sources.list`-style file (`deb [opts] URI suite comp...`)."""
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        tokens = line.split()
        kind, rest = tokens[0], tokens[1:]
        if rest and rest[0].startswith("["):
            # Options may contain spaces: `[arch=amd64 signed-by=/x.gpg]`.
            while rest and not rest[0].endswith("]"):
                rest = rest[1:]
            rest = rest[1:]
        if len(rest) < 2:
            continue
        yield AptSource((kind,), rest[0], (rest[1],), tuple(rest[2:]), origin)


def parse_deb822(text: str, origin: str) -> Iterator[AptSource]:
    """Entries of a `*.sources` file: paragraphs of `Field: value` with continuation lines."""
    for paragraph in _paragraphs(text):
        if paragraph.get("enabled", "yes").strip().lower() == "no":
            continue
        types = tuple(paragraph.get("types", "").split())
        suites = tuple(paragraph.get("suites", "").split())
        components = tuple(paragraph.get("components", "").split())
        for uri in paragraph.get("uris", "").split():
            yield AptSource(types, uri, suites, components, origin)


def _paragraphs(text: str) -> Iterator[dict[str, str]]:
    fields: dict[str, str] = {}
    key: str | None = None
    for raw in [*text.splitlines(), ""]:
        if raw.startswith("#"):
            continue
        if not raw.strip():
            if fields:
                yield fields
            fields, key = {}, None
        elif raw[0] in " \t" and key is not None:
            fields[key] += " " + raw.strip()
        elif ":" in raw:
            name, value = raw.split(":", 1)
            key = name.strip().lower()
            fields[key] = value.strip()


def apt_sources(apt_dir: Path = APT_DIR) -> Iterator[AptSource]:
    """Every entry in apt's order: sources.list, then sources.list.d/* sorted by name.

    Files with other suffixes (`*.disabled`, `*.save`, `*.dpkg-old`) are ignored, as apt does.
    """
    main = apt_dir / "sources.list"
    if main.is_file():
        yield from parse_one_line(main.read_text(errors="replace"), str(main))
    parts = apt_dir / "sources.list.d"
    if not parts.is_dir():
        return
    for path in sorted(parts.iterdir()):
        if path.suffix == ".list" and path.is_file():
            yield from parse_one_line(path.read_text(errors="replace"), str(path))
        elif path.suffix == ".sources" and path.is_file():
            yield from parse_deb822(path.read_text(errors="replace"), str(path))


def is_debian_archive(source: AptSource) -> bool:
    """Whether an entry is the Debian archive proper (not security, not a vendor repo).

    The archive's path ends in `/debian` and it always has the `main` component; that shuts
    out vendor repositories that also end in `/debian` (their components are `stable`,
    `mysql-8.0`, ...), and the security archive ends in `/debian-security`.
    """
    if "deb" not in source.types:
        return False
    parts = urlsplit(source.uri)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    if not parts.path.rstrip("/").endswith("/debian"):
        return False
    if "main" not in source.components:
        return False
    return any(not suite.endswith("-security") for suite in source.suites)


def find_debian_mirror(apt_dir: Path = APT_DIR) -> str:
    """The first Debian archive URI in apt's sources, without a trailing slash."""
    for source in apt_sources(apt_dir):
        if is_debian_archive(source):
            return source.uri.rstrip("/")
    raise SandboxError(
        f"no Debian archive mirror found in {apt_dir}/sources.list or "
        f"{apt_dir}/sources.list.d/*.{{list,sources}}; pass --mirror URL "
        "(a Debian mirror whose path ends in /debian)"
    )
