"""One message catalogue for every page: Indonesian first, English on the switch.

Each language is one JSON file of `key -> text` (`static/messages-<language>.json`); the
pages fetch `/i18n/<language>` and put the texts in by key (`data-i18n` attributes, and
`t(key)` in the scripts, pln123/web/static/i18n.js), so a label is written once per
language, never as "Indonesian / English" glued together. Both catalogues must have the
same keys (a unit test compares them); a key missing at run time shows as the key itself.
Public (the login page needs it): it holds only the pages' own words.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from pln123.web.web import write_json

LANGUAGES = ("id", "en")
DEFAULT_LANGUAGE = "id"
STATIC = Path(__file__).parent / "static"


@cache
def catalogue(language: str) -> dict[str, str]:
    """The messages of `language` (KeyError for a language not offered)."""
    if language not in LANGUAGES:
        raise KeyError(language)
    data = json.loads((STATIC / f"messages-{language}.json").read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ValueError(f"messages-{language}.json must map keys to texts")
    return data


class Messages(Resource):
    """`GET /i18n/<language>`: the catalogue as JSON."""

    isLeaf = True  # noqa: N815 - twisted.web's name

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]

    def render_GET(self, request: Request) -> object:
        name = b"/".join(request.postpath or []).decode("utf-8", "replace")
        if name not in LANGUAGES:
            write_json(request, 404, {"error": f"no messages for {name!r} "
                                               f"(languages: {', '.join(LANGUAGES)})"})
            return NOT_DONE_YET
        write_json(request, 200, {"language": name, "messages": catalogue(name)})
        return NOT_DONE_YET
