"""A report's rows as a table for people or as CSV for spreadsheets, and the times they take.

Times are the sites' local time (the dashboard's `utc_offset_h`, WIB by default), written
ISO 8601 with the offset, so a CSV is unambiguous wherever it is opened. In CSV a ratio is
a fraction (0.8125) and an unknown value is empty; in a table a ratio is a percentage and
an unknown value is `-`, as on the dashboard.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from pln123.history.reports import RATIO_COLUMNS, TIME_COLUMNS

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


def zone(utc_offset_s: float) -> timezone:
    return timezone(timedelta(seconds=utc_offset_s))


def parse_time(value: str, utc_offset_s: float) -> float:
    """Epoch seconds from `2026-12-06`, `2026-12-06T08:00`, `2026-12-06 08:00:00+07:00`
    (local time when no offset is given) or plain epoch seconds; ValueError otherwise."""
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    if _DATE.match(text):
        text += "T00:00"
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(utc_offset_s))
    return moment.timestamp()


def local_time(epoch: float | None, utc_offset_s: float, *, total: bool = False) -> str:
    if epoch is None:
        return "total" if total else ""
    moment = datetime.fromtimestamp(epoch, UTC).astimezone(zone(utc_offset_s))
    return moment.isoformat(timespec="seconds")


def cell(column: str, value: Any, utc_offset_s: float, *, for_csv: bool) -> str:
    if column in TIME_COLUMNS:
        return local_time(value, utc_offset_s, total=column == "interval")
    if value is None:
        return "" if for_csv else "-"
    if isinstance(value, bool):
        return "1" if value else "0"
    if column in RATIO_COLUMNS and isinstance(value, float):
        return f"{value:.4f}" if for_csv else f"{value * 100:.1f}%"
    if isinstance(value, float):
        return f"{value:.3f}" if for_csv else f"{value:.1f}"
    return str(value)


def to_csv(columns: Sequence[str], rows: Sequence[Mapping[str, Any]],
           utc_offset_s: float) -> str:
    """RFC 4180 CSV, the header first (docs/reports.md lists each report's)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell(c, row.get(c), utc_offset_s, for_csv=True) for c in columns])
    return out.getvalue()


def to_table(columns: Sequence[str], rows: Sequence[Mapping[str, Any]],
             utc_offset_s: float) -> str:
    """Aligned columns; numbers to the right."""
    cells = [[cell(c, row.get(c), utc_offset_s, for_csv=False) for c in columns]
             for row in rows]
    widths = [max([len(c)] + [len(line[i]) for line in cells]) for i, c in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if _numeric(v) else v.ljust(w)
                         for v, w in zip(values, widths, strict=True)).rstrip()

    body = [line(columns), line(["-" * w for w in widths])] + [line(v) for v in cells]
    return "\n".join(body) + "\n"


def _numeric(value: str) -> bool:
    return bool(re.fullmatch(r"-?[\d.]+%?|-", value))
