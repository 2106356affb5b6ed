"""SIGHUP reload logic: what applies live, what waits for a restart, what is refused, and
that every piece of a site's call centre runs on the new settings afterwards."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs
from twisted.internet.task import Clock

from acd.store.redis import RedisStore
from pln123.config import load_config
from pln123.config.model import Config
from pln123.serve.reload import ReloadRefused, plan_reload
from pln123.serve.runtime import ServeRuntime
from pln123.serve.systemd import SystemdNotifier
from pln123.site import AMITarget, CallCentre, build_site
from tests.doubles.config import shipped_data, write


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    return write(tmp_path / "pln.yaml", shipped_data())


def changed(config_file: Path, edit: Any) -> Config:
    data = shipped_data()
    edit(data)
    return load_config(write(config_file.parent / "new.yaml", data))


# -- the plan ---------------------------------------------------------------------------


def test_an_unchanged_config_changes_nothing(config_file: Path) -> None:
    old = load_config(config_file)
    plan = plan_reload(old, load_config(config_file), "palembang")
    assert not plan.changed and plan.applied == () and plan.needs_restart == ()


def test_timings_reserves_and_queues_apply_live(config_file: Path) -> None:
    old = load_config(config_file)

    def edit(data: dict[str, Any]) -> None:
        data["acd"]["announce_every_s"] = 12
        data["acd"]["pooling"]["reserve"] = 2
        data["acd"]["queues"]["general"]["wrapup_s"] = 3

    plan = plan_reload(old, changed(config_file, edit), "palembang")
    assert set(plan.applied) == {"acd.announce_every_s", "acd.pooling.default_reserve",
                                 "acd.queues.general.wrapup_s"}
    assert plan.needs_restart == ()
    assert plan.effective.acd.announce_every_s == 12
    assert plan.effective.acd.pooling.reserve_for("medan", "general") == "2"
    assert plan.effective.acd.queue("general").wrapup_s == 3


def test_a_sites_pool_waits_for_a_restart(config_file: Path) -> None:
    """The pool is in every key's hash tag: a running process keeps its keys."""
    old = load_config(config_file)

    def edit(data: dict[str, Any]) -> None:
        data["acd"]["pools"] = {"west": ["palembang", "medan"]}

    plan = plan_reload(old, changed(config_file, edit), "palembang")
    assert plan.needs_restart == ("acd.pooling.pools.national", "acd.pooling.pools.west")
    assert plan.effective.acd.pooling.pool_of("palembang") == "national"


def test_restart_only_settings_keep_their_running_values(config_file: Path) -> None:
    old = load_config(config_file)

    def edit(data: dict[str, Any]) -> None:
        data["sites"]["palembang"]["ami"]["port"] = 5040
        data["sites"]["medan"]["ami"]["port"] = 5041     # another site's: no restart here
        data["redis"] = {"url": "redis://10.0.0.9:6379/0"}
        data["acd"]["service_level_s"] = 30
        data["acd"]["ring_timeout_s"] = 9                # live, in the same reload

    plan = plan_reload(old, changed(config_file, edit), "palembang")
    assert set(plan.needs_restart) == {"acd.service_level_s", "redis.url",
                                       "sites.palembang.ami.port"}
    assert set(plan.applied) == {"acd.ring_timeout_s", "sites.medan.ami.port"}
    running = plan.effective
    assert running.sites["palembang"].ami == old.sites["palembang"].ami
    assert running.sites["medan"].ami.port == 5041
    assert running.redis == old.redis
    assert running.acd.service_level_s == old.acd.service_level_s
    assert running.acd.ring_timeout_s == 9


def test_an_ended_calls_keep_waits_for_a_restart(config_file: Path) -> None:
    """It is an argument of the queue scripts, like the abandon-resume window."""
    old = load_config(config_file)

    def edit(data: dict[str, Any]) -> None:
        data["acd"]["ended_call_keep_s"] = 600

    plan = plan_reload(old, changed(config_file, edit), "palembang")
    assert plan.needs_restart == ("acd.ended_call_keep_s",)
    assert plan.effective.acd.ended_call_keep_s == old.acd.ended_call_keep_s == 3600


def test_roster_changes_are_named_per_agent_and_flagged_for_asterisk(
        config_file: Path) -> None:
    old = load_config(config_file)
    first = old.acd.agents_at("palembang")[0]

    def edit(data: dict[str, Any]) -> None:
        data["agents"].append({"id": "1999", "name": "Baru", "site": "palembang",
                               "endpoint": "PJSIP/1999", "skills": {"general": 3}})
        data["agents"] = [a for a in data["agents"] if str(a["id"]) != first.id]

    plan = plan_reload(old, changed(config_file, edit), "palembang")
    assert set(plan.applied) == {f"agents.{first.id}", "agents.1999"}
    assert set(plan.asterisk_side) == {f"agents.{first.id}", "agents.1999"}
    assert plan.effective.agent("1999") is not None


def test_a_config_without_this_site_is_refused(config_file: Path) -> None:
    old = load_config(config_file)
    new = replace(old, sites={k: v for k, v in old.sites.items() if k != "medan"})
    with pytest.raises(ReloadRefused, match="no site 'medan'"):
        plan_reload(old, new, "medan")


# -- the site's pieces ------------------------------------------------------------------


def centre_for(config: Config, clock: Clock) -> CallCentre:
    """Built, never started: no AMI connection, no Redis command."""
    store = RedisStore("redis://127.0.0.1:1/0")
    return build_site(config, "palembang", store, clock,
                      ami=AMITarget("127.0.0.1", 1, "pln123", "secret-secret"))


def test_reload_hands_the_new_settings_to_every_piece(config_file: Path) -> None:
    old = load_config(config_file)

    def edit(data: dict[str, Any]) -> None:
        data["acd"]["announce_every_s"] = 15
        data["acd"]["pooling"]["reserve"] = 1
        data["acd"]["pooling"]["status_every_s"] = 2

    new = plan_reload(old, changed(config_file, edit), "palembang").effective
    centre = centre_for(old, Clock())
    centre.reload(new)
    assert centre.config is new
    assert centre.engine.config is new
    acd = centre.acd
    assert acd.distributor.settings is new.acd
    assert acd.room is not None and acd.room.settings.announce_every_s == 15
    assert acd.queues.settings is new.acd          # and the script's pool rules with it
    assert acd.keeper.settings is new.acd
    assert acd.admission.pooling is new.acd.pooling
    assert acd.status.settings.pooling.status_every_s == 2
    assert acd.metrics.settings is new.acd


def test_reload_rings_lent_agents_through_the_new_trunk_peer(config_file: Path) -> None:
    old = load_config(config_file)

    def edit(data: dict[str, Any]) -> None:
        data["sites"]["medan"]["iax2_peer"] = "medan-b"

    new = plan_reload(old, changed(config_file, edit), "palembang").effective
    centre = centre_for(old, Clock())
    assert centre.telephony.trunks["medan"] == old.sites["medan"].iax2_peer
    centre.reload(new)
    assert centre.telephony.trunks["medan"] == "medan-b"
    assert "palembang" not in centre.telephony.trunks


def test_runtime_reload_refuses_a_broken_file_and_keeps_the_old_config(
        config_file: Path) -> None:
    clock = Clock()
    old = load_config(config_file)
    centre = centre_for(old, clock)
    runtime = ServeRuntime(centre, centre.acd.queues.redis, clock, config_file,
                           SystemdNotifier(clock, environ={}))
    data = shipped_data()
    data["acd"]["announce_every_s"] = -1
    data["acd"]["pooling"]["reserve"] = "some"
    write(config_file, data)
    with capture_logs() as logs:
        assert runtime.reload() is False
    assert centre.config is old
    problems = [e for e in logs if e["event"] == "config_problem"]
    assert {p["key"] for p in problems} == {"acd.announce_every_s",
                                            "acd.pooling.reserve"}
    refused = [e for e in logs if e["event"] == "config_reload_refused"]
    assert len(refused) == 1 and len(refused[0]["problems"]) == 2

    data["acd"]["announce_every_s"] = 11
    data["acd"]["pooling"]["reserve"] = 3
    data["redis"] = {"url": "redis://10.0.0.9:6379/0"}
    write(config_file, data)
    with capture_logs() as logs:
        assert runtime.reload() is True
    assert centre.config.acd.announce_every_s == 11
    assert centre.config.redis == old.redis
    done = next(e for e in logs if e["event"] == "config_reloaded")
    assert set(done["applied"]) == {"acd.announce_every_s",
                                    "acd.pooling.default_reserve"}
    assert done["needs_restart"] == ["redis.url"]
    assert any(e["event"] == "config_reload_needs_restart" for e in logs)


@pytest.mark.parametrize("error", [
    MemoryError(), RecursionError("maximum recursion depth exceeded"),
    ValueError("Exceeds the limit (4300 digits) for integer string conversion"),
    UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
    KeyError("sites"),
], ids=lambda e: type(e).__name__)
def test_a_reload_failing_in_any_way_is_refused_and_the_old_config_kept(
        config_file: Path, error: Exception) -> None:
    clock = Clock()
    old = load_config(config_file)
    centre = centre_for(old, clock)

    def load(_path: Path) -> Config:
        raise error

    runtime = ServeRuntime(centre, centre.acd.queues.redis, clock, config_file,
                           SystemdNotifier(clock, environ={}), load=load)
    with capture_logs() as logs:
        assert runtime.reload() is False
    assert centre.config is old
    [refused] = [e for e in logs if e["event"] == "config_reload_refused"]
    assert refused["kept"] == "the running config"
    assert refused["problems"][0]["key"] == "<file>"
    assert type(error).__name__ in refused["problems"][0]["error"]
    assert "Traceback" not in str(refused)


def test_a_reload_that_fails_while_applied_puts_the_old_config_back(
        config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    old = load_config(config_file)
    centre = centre_for(old, clock)
    runtime = ServeRuntime(centre, centre.acd.queues.redis, clock, config_file,
                           SystemdNotifier(clock, environ={}))
    data = shipped_data()
    data["acd"]["announce_every_s"] = 11
    write(config_file, data)
    calls: list[Config] = []
    reconfigure = centre.engine.reconfigure

    def flaky(config: Config) -> None:
        calls.append(config)
        if len(calls) == 1:
            raise RuntimeError("a piece refused the new settings")
        reconfigure(config)

    monkeypatch.setattr(centre.engine, "reconfigure", flaky)
    with capture_logs() as logs:
        assert runtime.reload() is False
    assert centre.config is old and calls[-1] is old
    assert centre.acd.distributor.settings is old.acd
    assert any(e["event"] == "config_reload_refused" for e in logs)
