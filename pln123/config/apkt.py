"""The `apkt:` section of the admin config: the connector to PLN's complaint application.

    apkt:
      url: https://apkt.pln.co.id/api/pln123      # http(s)://host[:port][/path], no user:pass
      token_file: secrets/apkt.token                # our bearer token at APKT (>= 16 chars)
      webhook_secret_file: secrets/apkt-webhook.secret   # shared HMAC secret (>= 32 chars)
      timeout_s: 10                    # one request's deadline
      concurrency: 16                  # tickets delivered at once
      backfill_h: 24                   # first start: tickets of the last day are sent too
      claim_idle_s: 60                 # another process's unfinished entries taken over after
      retry: {initial_s: 1, factor: 2, max_s: 300, unknown_ticket_attempts: 20}

The section is optional: without it no ticket leaves pln123 (docs/apkt.md). Secrets are
read from their files (checked here, read when the connector starts), never from the YAML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pln123.config.reader import Reader

URL = re.compile(r"https?://[A-Za-z0-9.\[\]:-]{1,260}(/[A-Za-z0-9._~/%-]*)?\Z")
MIN_TOKEN = 16
MIN_SECRET = 32


@dataclass(frozen=True)
class ApktRetry:
    initial_s: float = 1.0
    factor: float = 2.0
    max_s: float = 300.0
    unknown_ticket_attempts: int = 20


@dataclass(frozen=True)
class ApktSettings:
    url: str
    token_file: Path
    webhook_secret_file: Path
    timeout_s: float = 10.0
    concurrency: int = 16
    backfill_s: float = 24 * 3600.0
    claim_idle_s: float = 60.0
    retry: ApktRetry = field(default_factory=ApktRetry)

    def read_token(self) -> str:
        return self.token_file.read_text(encoding="utf-8").strip()

    def read_webhook_secret(self) -> bytes:
        return self.webhook_secret_file.read_text(encoding="utf-8").strip().encode()


def parse_apkt(top: Reader, base: Path) -> ApktSettings | None:
    """The section, or None when absent; problems go to the reader's list."""
    if top.raw("apkt") is None:
        return None
    reader = top.child("apkt")
    url = reader.text("url")
    if url and not URL.match(url):
        reader.error(f"{url!r} is not an http:// or https:// URL (no user:password, no "
                     "query)", "url")
    token_file = _secret(reader, "token_file", base, MIN_TOKEN)
    secret_file = _secret(reader, "webhook_secret_file", base, MIN_SECRET)
    timeout_s = reader.number("timeout_s", 10.0, 0.5, 120.0)
    concurrency = reader.integer("concurrency", 16, 1, 256)
    backfill_h = reader.number("backfill_h", 24.0, 0.0, 24.0 * 90)
    claim_idle_s = reader.number("claim_idle_s", 60.0, 5.0, 3600.0)
    retry = _retry(reader.child("retry", required=False))
    reader.finish()
    return ApktSettings(url, token_file, secret_file, timeout_s, concurrency,
                        backfill_h * 3600, claim_idle_s, retry)


def _retry(reader: Reader) -> ApktRetry:
    initial = reader.number("initial_s", 1.0, 0.01, 600.0)
    factor = reader.number("factor", 2.0, 1.0, 10.0)
    most = reader.number("max_s", 300.0, 0.01, 3600.0)
    attempts = reader.integer("unknown_ticket_attempts", 20, 1, 1000)
    if most < initial:
        reader.error(f"must be at least initial_s ({initial:g})", "max_s")
    reader.finish()
    return ApktRetry(initial, factor, most, attempts)


def _secret(reader: Reader, key: str, base: Path, minimum: int) -> Path:
    name = reader.text(key)
    path = Path(name) if Path(name).is_absolute() else base / name
    if not name:
        return path
    try:
        content = path.read_text(encoding="utf-8").strip()
    except OSError as error:
        reader.error(f"cannot read {path}: {error.strerror}", key)
        return path
    if len(content) < minimum:
        reader.error(f"the secret in {path} must be at least {minimum} characters", key)
    return path
