"""Builders for the ACD's tests: settings, agents, requests and a virtual clock.

Plain values, no store: the unit tests and the tests on a real Redis build the same site
from the same numbers.
"""

from __future__ import annotations

from twisted.internet.task import Clock

from acd.intake import QueueRequest
from acd.settings import AcdSettings, AgentSpec, QueueSettings

SITE = "palembang"
T0 = 1_735_801_200.0  # 2025-01-02 14:00 WIB, on a 15-minute boundary


def virtual_clock() -> Clock:
    clock = Clock()
    clock.advance(T0)
    return clock


def agent(agent_id: str, **skills: int) -> AgentSpec:
    return AgentSpec(agent_id, f"Agent {agent_id}", SITE, f"PJSIP/{agent_id}",
                     skills or {"billing": 5})


def settings(*agents: AgentSpec, **overrides: float) -> AcdSettings:
    queues = {"billing": QueueSettings("billing", wrapup_s=10.0),
              "outage": QueueSettings("outage", wrapup_s=5.0)}
    values = {"service_level_s": 20.0, "escalation_s": 30.0, "ring_timeout_s": 15.0,
              "audit_maxlen": 10_000, **overrides}
    return AcdSettings(queues=queues, agents=agents, **values)  # type: ignore[arg-type]


def request(call_id: str, skill: str = "billing", priority: int = 5,
            entered_at: float = T0) -> QueueRequest:
    return QueueRequest(call_id=call_id, site=SITE, channel=f"PJSIP/trunk-{call_id}",
                        skill=skill, priority=priority, language="id", area_code="0711",
                        region="sumsel", caller_number="0711555" + call_id[-4:].zfill(4),
                        idpel=None, entered_at=entered_at)
