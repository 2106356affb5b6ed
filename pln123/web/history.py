"""`/history`: the call history page, its JSON, its CSV downloads and the recordings.

- `GET /history` the page (a supervisor's session; else off to /login);
- `GET /history/meta.json` the sites, the local offset, where this supervisor may play;
- `GET /history/interval.json?from=&to=&site=` per 15 minutes for the chart, and the total;
- `GET /history/calls.json?from=&to=&site=` the calls, each with whether it has a
  recording this supervisor may play;
- `GET /history/<interval|agents|abandoned|calls>.csv?from=&to=&site=` the CSV of
  `pln123 report --format csv` (the same writer: pln123/history/output.py);
- `GET /history/recordings/<call id>[?download=1]` the WAV (Range supported).

Scoping is the live pages': every supervisor reads every site's figures and calls (pooling
makes the neighbours' queues their business); a recording, a conversation with a customer,
only at the call's own site (`Role.may_act_on`, as for acting on its agents). Every play or
download is appended to the call's site's audit stream (`dashboard_recording_play`, with
the supervisor and the call), like every other dashboard action. The wallboard and the
agents' desktop sessions get nothing here.

`from` and `to` take what `pln123 report` takes (`2026-12-06` is that day from local
midnight); `to` defaults to a day after `from`. A bad time, `to` not after `from`, a window
over 31 days or an unknown site is a 400 with the reason.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from pln123.history import reports
from pln123.history.output import local_time, parse_time, to_csv
from pln123.recordings.files import RecordingRefused, recording_path
from pln123.web.actions import Actions
from pln123.web.api import STORE_ERRORS
from pln123.web.history_source import (
    MAX_CALLS,
    MAX_RANGE_S,
    HistorySource,
    NoHistory,
    scope_rows,
)
from pln123.web.pages import _send
from pln123.web.web import ApiError, Auth, Principal, security_headers, write_json

log = structlog.get_logger("pln123.web.history")

CSV_KINDS = ("interval", "agents", "abandoned", "calls")
_CHART = ("offered", "answered", "abandoned", "service_level", "abandon_rate", "asa_s")
_FIRST_BYTES = re.compile(r"bytes=0-")


class HistoryPages(Resource):
    isLeaf = True  # noqa: N815 - twisted.web's name

    def __init__(self, source: HistorySource, auth: Auth, actions: Actions,
                 sites: Sequence[str], clock: IReactorTime):
        super().__init__()  # type: ignore[no-untyped-call]
        self.source = source
        self.auth = auth
        self.actions = actions
        self.sites = list(sites)
        self.clock = clock

    # -- dispatch -------------------------------------------------------------------------

    def render_GET(self, request: Request) -> object:
        parts = [p.decode("utf-8", "replace") for p in request.postpath or []]
        principal = self.auth.principal(request)
        if parts in ([], [""]):
            if principal is None or principal.session is None:
                request.redirect(b"/login")
                return b""
            if principal.role.read_only or principal.role.kind == "agent":
                request.redirect(b"/")
                return b""
            return _send(request, "history.html")
        try:
            who = self._supervisor(principal)
            if parts == ["meta.json"]:
                write_json(request, 200, self._meta(who))
                return NOT_DONE_YET
            if len(parts) == 2 and parts[0] == "recordings":
                d = Deferred.fromCoroutine(self._recording(request, who, parts[1]))
            elif parts in (["interval.json"], ["calls.json"]):
                d = Deferred.fromCoroutine(self._json(request, who, parts[0][:-5]))
            elif len(parts) == 1 and parts[0].endswith(".csv") and parts[0][:-4] in CSV_KINDS:
                d = Deferred.fromCoroutine(self._csv(request, parts[0][:-4]))
            else:
                raise ApiError(404, "no such page")
        except ApiError as error:
            write_json(request, error.code, {"error": error.reason})
            return NOT_DONE_YET
        d.addErrback(self._failed, request)
        return NOT_DONE_YET

    def _supervisor(self, principal: Principal | None) -> Principal:
        if principal is None:
            raise ApiError(401, "log in first")
        if principal.role.read_only or principal.session is None \
                or principal.role.kind == "agent":
            raise ApiError(403, "the call history is for supervisors")
        return principal

    def _failed(self, failure: Failure, request: Request) -> None:
        if failure.check(ApiError):
            error: ApiError = failure.value  # type: ignore[assignment]
            write_json(request, error.code, {"error": error.reason})
        elif failure.check(NoHistory):
            write_json(request, 503, {"error": str(failure.value)})
        elif failure.check(*STORE_ERRORS):   # a play that cannot be audited is not served
            write_json(request, 503, {"error": "Redis is not answering; try again"},
                       {b"Retry-After": b"1"})
        else:
            log.error("history_request_failed", error=failure.getErrorMessage(),
                      traceback=failure.getTraceback())
            write_json(request, 500, {"error": "internal error (logged on the server)"})

    # -- reading --------------------------------------------------------------------------

    def _meta(self, who: Principal) -> dict[str, Any]:
        return {"sites": self.sites, "utc_offset_s": self.source.settings.utc_offset_s,
                "may_play": [s for s in self.sites if who.role.may_act_on(s)],
                "recordings": self.source.settings.recordings is not None}

    def window(self, request: Request) -> reports.Window:
        args = {k.decode("utf-8", "replace"): v[-1].decode("utf-8", "replace")
                for k, v in (request.args or {}).items() if v}
        offset = self.source.settings.utc_offset_s
        if not args.get("from"):
            raise ApiError(400, "from is required (e.g. 2026-12-06)")
        try:
            start = parse_time(args["from"], offset)
        except ValueError:
            raise ApiError(400, f"from: {args['from'][:40]!r} is not a date or time") from None
        try:
            end = parse_time(args["to"], offset) if args.get("to") else start + 86_400
        except ValueError:
            raise ApiError(400, f"to: {args['to'][:40]!r} is not a date or time") from None
        if end <= start:
            raise ApiError(400, "to must be after from")
        if end - start > MAX_RANGE_S:
            raise ApiError(400, "at most 31 days at once (pln123 report for more)")
        site = args.get("site", "")
        if site and site not in self.sites:
            raise ApiError(400, f"no site {site[:40]!r}")
        return reports.Window(start, end, frozenset({site}) if site else frozenset())

    async def _json(self, request: Request, who: Principal, kind: str) -> None:
        window = self.window(request)
        site = next(iter(window.sites), None)
        offset = self.source.settings.utc_offset_s
        rows = await self.source.report(kind, window, self.clock.seconds())
        if kind == "interval":
            shown = scope_rows(rows, site)
            body: dict[str, Any] = {
                "site": site or "all",
                "intervals": [{"start": local_time(r["interval"], offset),
                               **{k: r[k] for k in _CHART}}
                              for r in shown if r["interval"] is not None],
                "total": next(({k: r[k] for k in _CHART} for r in shown
                               if r["interval"] is None), None)}
        else:
            body = {"calls": [self._call(r, who, offset) for r in rows[:MAX_CALLS]],
                    "truncated": len(rows) > MAX_CALLS}
        write_json(request, 200, body)

    def _call(self, row: dict[str, Any], who: Principal, offset: float) -> dict[str, Any]:
        out = {k: (local_time(v, offset) if k in reports.TIME_COLUMNS else v)
               for k, v in row.items() if k != "recording_path"}
        out["recorded"] = bool(row.get("recording_path"))
        out["may_play"] = out["recorded"] and who.role.may_act_on(row["site"])
        return out

    async def _csv(self, request: Request, kind: str) -> None:
        window = self.window(request)
        rows = await self.source.report(kind, window, self.clock.seconds())
        text = to_csv(reports.COLUMNS[kind], rows, self.source.settings.utc_offset_s)
        if request.finished or getattr(request, "_disconnected", False):
            return
        security_headers(request)
        request.setHeader(b"Content-Type", b"text/csv; charset=utf-8")
        request.setHeader(b"Cache-Control", b"no-store")
        request.setHeader(b"Content-Disposition",
                          f'attachment; filename="pln123-{kind}.csv"'.encode())
        request.write(text.encode("utf-8"))
        request.finish()

    # -- recordings -----------------------------------------------------------------------

    async def _recording(self, request: Request, who: Principal, call_id: str) -> None:
        folder = self.source.settings.recordings
        if folder is None:
            raise ApiError(404, "nothing is recorded here")
        try:
            path = recording_path(folder, call_id)
        except RecordingRefused:
            raise ApiError(400, "not a call id") from None
        sites = await self.source.call_sites(call_id)
        if sites is None:
            raise ApiError(404, f"no call {call_id} in the history")
        site = sites[0]
        if not who.role.may_act_on(site):
            raise ApiError(403, f"recordings of {site}'s calls are for {site}'s supervisors")
        if not path.is_file():
            raise ApiError(404, "no recording of that call (never recorded, or deleted)")
        download = bool((request.args or {}).get(b"download"))
        ranged = request.getHeader("range")
        if ranged is None or _FIRST_BYTES.match(ranged.strip()):   # a play starts here
            await self.actions.audit(site, "dashboard_recording_play", who.name, {
                "call": call_id, "download": "1" if download else "0"})
            log.info("recording_played", supervisor=who.name, call_id=call_id, site=site,
                     download=download)
        self._send_file(request, path, call_id, download)

    def _send_file(self, request: Request, path: Path, call_id: str, download: bool) -> None:
        if request.finished or getattr(request, "_disconnected", False):
            return
        security_headers(request)
        request.setHeader(b"Cache-Control", b"no-store")
        if download:
            request.setHeader(b"Content-Disposition",
                              f'attachment; filename="{call_id}.wav"'.encode())
        with warnings.catch_warnings():   # Twisted's own module deprecates its own classes
            warnings.simplefilter("ignore", DeprecationWarning)
            from twisted.web.static import File

        resource = File(str(path), defaultType="audio/wav")
        resource.type, resource.encoding = "audio/wav", None
        body = resource.render_GET(request)
        if body is not NOT_DONE_YET:
            request.write(body)
            request.finish()
