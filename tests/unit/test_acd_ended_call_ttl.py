"""How long an ended call's keys live: the longest of the windows that still read them, each
window from its own setting, and the number the queue scripts are given."""

from __future__ import annotations

from acd.queues.store import QueueStore
from acd.settings import AcdSettings


def test_the_ttl_is_the_longest_window_that_still_reads_the_call() -> None:
    assert AcdSettings().ended_call_ttl_s() == 3600.0
    assert AcdSettings(abandon_resume_s=900, ended_call_keep_s=60).ended_call_ttl_s() == 900
    assert AcdSettings(abandon_resume_s=300, ended_call_keep_s=7200).ended_call_ttl_s() == 7200


def test_the_windows_are_named_by_their_settings() -> None:
    settings = AcdSettings(abandon_resume_s=120, ended_call_keep_s=30)
    assert settings.ended_call_windows() == {"abandon_resume_s": 120,
                                             "ended_call_keep_s": 30}
    for name, value in settings.ended_call_windows().items():
        assert getattr(settings, name) == value


def test_never_under_a_second() -> None:
    assert AcdSettings(abandon_resume_s=0, ended_call_keep_s=0).ended_call_ttl_s() == 1.0


def test_the_scripts_get_both_windows_in_the_head() -> None:
    queues = QueueStore(None, "palembang",  # type: ignore[arg-type]
                        AcdSettings(abandon_resume_s=120, ended_call_keep_s=30))
    windows = [float(x) for x in queues._head.split("\x1f")[5].split(",")]
    assert windows == [120, 120]   # the abandon-resume window, the ended call's TTL
    longer = QueueStore(None, "palembang",  # type: ignore[arg-type]
                        AcdSettings(abandon_resume_s=0, ended_call_keep_s=3600))
    assert [float(x) for x in longer._head.split("\x1f")[5].split(",")] == [0, 3600]
