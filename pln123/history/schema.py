"""The history's tables, as SQLAlchemy metadata: the one description of the schema.

Migrations (pln123/history/migrations) create and change it; tests compare the migrated
database with this metadata, so the two cannot drift apart.

`events` holds every audit entry once, keyed by the stream it came from and its stream id
(the archiver's idempotence); `calls` one row per call, folded from its site's events
(pln123/history/rows.py). A call's steps are its events, at the call's own site and, for
an agent's ring and answer, at the agent's site.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

events = Table(
    "events", metadata,
    Column("site", String(32), primary_key=True),       # whose audit stream
    Column("entry_id", String(40), primary_key=True),   # the stream id, e.g. 1765000000000-0
    Column("at", Float, nullable=False),                # the ACD's clock, epoch s
    Column("event", String(48), nullable=False),
    Column("subject", String(8), nullable=False),       # call, agent or other
    Column("call_id", String(64), nullable=False, server_default=""),
    Column("agent", String(64), nullable=False, server_default=""),
    Column("agent_site", String(32), nullable=False, server_default=""),
    Column("skill", String(32), nullable=False, server_default=""),
    Column("state", String(24), nullable=False, server_default=""),
    Column("reason", String(64), nullable=False, server_default=""),
    Column("wait_ms", Integer, nullable=True),          # answered/abandoned: the queue wait
    Column("in_sl", Boolean, nullable=True),            # ... within the service level T
    Column("detail", Text, nullable=False, server_default="{}"),  # the other fields, JSON
    Index("ix_events_at", "at"),
    Index("ix_events_call", "call_id"),
    Index("ix_events_agent_at", "agent", "at"),
)

calls = Table(
    "calls", metadata,
    Column("call_id", String(64), primary_key=True),
    Column("site", String(32), nullable=False),
    Column("skill", String(32), nullable=False, server_default=""),
    Column("caller_number", String(64), nullable=False, server_default=""),
    Column("region", String(64), nullable=False, server_default=""),
    Column("area_code", String(8), nullable=False, server_default=""),
    Column("language", String(8), nullable=False, server_default=""),
    Column("idpel", String(16), nullable=False, server_default=""),
    Column("uniqueid", String(64), nullable=False, server_default=""),
    Column("priority", Integer, nullable=True),
    Column("entered_at", Float, nullable=True),     # the IVR answered the caller
    Column("offered_at", Float, nullable=True),     # handed to the ACD (counted offered)
    Column("enqueued_at", Float, nullable=True),    # the wait counts from here
    Column("answered_at", Float, nullable=True),
    Column("ended_at", Float, nullable=True),
    Column("wait_s", Float, nullable=True),         # enqueued -> answered or abandoned
    Column("in_sl", Boolean, nullable=True),
    Column("talk_s", Float, nullable=True),         # answered -> the caller's hang-up
    Column("state", String(16), nullable=False, server_default=""),
    Column("outcome", String(24), nullable=False, server_default=""),
    Column("agent", String(64), nullable=False, server_default=""),
    Column("agent_site", String(32), nullable=False, server_default=""),
    Column("pooled_to", String(32), nullable=False, server_default=""),
    Column("resumed_from", String(64), nullable=False, server_default=""),
    Column("callback", String(64), nullable=False, server_default=""),
    Column("callback_tries", Integer, nullable=False, server_default="0"),
    Column("fallback", String(32), nullable=False, server_default=""),
    # Written by later steps (the agents' disposition, the ticket an agent files, call
    # recording): part of the schema now so that a call row can carry them.
    Column("ticket", String(16), nullable=False, server_default=""),
    Column("disposition", String(64), nullable=False, server_default=""),
    Column("recording_path", String(512), nullable=True),
    Column("updated_at", Float, nullable=False),
    Index("ix_calls_offered", "offered_at"),
    Index("ix_calls_ended", "ended_at"),
    Index("ix_calls_site_offered", "site", "offered_at"),
    Index("ix_calls_caller", "caller_number"),
)
