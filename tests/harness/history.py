"""The call history on a real site: a config whose queues record into a sandbox instance's
folder, and the archiver (`pln123 archive`'s Archiver) in this process over a SQLite file.

The sandbox runs Asterisk chrooted as its own `asterisk` user: MixMonitor's folder is given
as Asterisk sees it (inside the root) and, for the dashboard and the deletion sweep, as
this process sees it (`recording.host_directory`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine, select

from acd.store.redis import RedisStore
from pln123.config import Config
from pln123.history.archiver import Archiver, streams_of
from pln123.history.database import migrate, open_engine
from pln123.history.schema import calls
from pln123.history.writer import HistoryWriter
from tests.doubles.config import shipped_data
from tools.sandbox import Instance

RECORDINGS = "spool/recordings"   # inside the instance's folder, which Asterisk owns


def recording_folders(instance: Instance) -> tuple[str, Path]:
    """The instance's recordings folder as its Asterisk sees it, and as pln123 does."""
    return (f"{instance.dir_in_root.rstrip('/')}/{RECORDINGS}",
            instance.path / RECORDINGS)


def recording_config(tmp: Path, instance: Instance, agents: list[dict[str, Any]],
                     acd: dict[str, Any], keep_days: float = 1) -> Path:
    """The shipped config with test agents and ACD settings, recording into `instance`."""
    data = shipped_data()
    data["agents"] = agents
    data["acd"] = {**data.get("acd", {}), **acd}
    directory, host = recording_folders(instance)
    data["recording"] = {"directory": directory, "host_directory": str(host),
                         "keep_days": keep_days}
    path = tmp / "pln.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


class LocalArchive:
    """The archiver of `config`'s sites into a fresh SQLite history, on this reactor."""

    def __init__(self, config: Config, store: RedisStore, clock: Any, database: Path,
                 sites: list[str]):
        self.url = f"sqlite:///{database}"
        self.engine: Engine = open_engine(self.url)
        migrate(self.engine)
        streams = streams_of({site: config.acd.pooling.pool_of(site) for site in sites})
        self.archiver = Archiver(store, HistoryWriter(self.engine), streams, clock,
                                 consumer="browser-test", batch=50, block_ms=200)

    def start(self) -> None:
        self.archiver.start()

    async def stop(self) -> None:
        await self.archiver.stop()
        self.engine.dispose()

    def rows(self) -> dict[str, dict[str, Any]]:
        """Every call's history row, by call id."""
        with self.engine.connect() as connection:
            return {r["call_id"]: dict(r)
                    for r in connection.execute(select(calls)).mappings()}
