"""The call history: every audit entry (`events`) and one row per call (`calls`).

Revision ID: 0001
Revises:
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("site", sa.String(32), primary_key=True),
        sa.Column("entry_id", sa.String(40), primary_key=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("event", sa.String(48), nullable=False),
        sa.Column("subject", sa.String(8), nullable=False),
        sa.Column("call_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("agent", sa.String(64), nullable=False, server_default=""),
        sa.Column("agent_site", sa.String(32), nullable=False, server_default=""),
        sa.Column("skill", sa.String(32), nullable=False, server_default=""),
        sa.Column("state", sa.String(24), nullable=False, server_default=""),
        sa.Column("reason", sa.String(64), nullable=False, server_default=""),
        sa.Column("wait_ms", sa.Integer, nullable=True),
        sa.Column("in_sl", sa.Boolean, nullable=True),
        sa.Column("detail", sa.Text, nullable=False, server_default="{}"),
    )
    op.create_index("ix_events_at", "events", ["at"])
    op.create_index("ix_events_call", "events", ["call_id"])
    op.create_index("ix_events_agent_at", "events", ["agent", "at"])
    op.create_table(
        "calls",
        sa.Column("call_id", sa.String(64), primary_key=True),
        sa.Column("site", sa.String(32), nullable=False),
        sa.Column("skill", sa.String(32), nullable=False, server_default=""),
        sa.Column("caller_number", sa.String(64), nullable=False, server_default=""),
        sa.Column("region", sa.String(64), nullable=False, server_default=""),
        sa.Column("area_code", sa.String(8), nullable=False, server_default=""),
        sa.Column("language", sa.String(8), nullable=False, server_default=""),
        sa.Column("idpel", sa.String(16), nullable=False, server_default=""),
        sa.Column("uniqueid", sa.String(64), nullable=False, server_default=""),
        sa.Column("priority", sa.Integer, nullable=True),
        sa.Column("entered_at", sa.Float, nullable=True),
        sa.Column("offered_at", sa.Float, nullable=True),
        sa.Column("enqueued_at", sa.Float, nullable=True),
        sa.Column("answered_at", sa.Float, nullable=True),
        sa.Column("ended_at", sa.Float, nullable=True),
        sa.Column("wait_s", sa.Float, nullable=True),
        sa.Column("in_sl", sa.Boolean, nullable=True),
        sa.Column("talk_s", sa.Float, nullable=True),
        sa.Column("state", sa.String(16), nullable=False, server_default=""),
        sa.Column("outcome", sa.String(24), nullable=False, server_default=""),
        sa.Column("agent", sa.String(64), nullable=False, server_default=""),
        sa.Column("agent_site", sa.String(32), nullable=False, server_default=""),
        sa.Column("pooled_to", sa.String(32), nullable=False, server_default=""),
        sa.Column("resumed_from", sa.String(64), nullable=False, server_default=""),
        sa.Column("callback", sa.String(64), nullable=False, server_default=""),
        sa.Column("callback_tries", sa.Integer, nullable=False, server_default="0"),
        sa.Column("fallback", sa.String(32), nullable=False, server_default=""),
        sa.Column("ticket", sa.String(16), nullable=False, server_default=""),
        sa.Column("disposition", sa.String(64), nullable=False, server_default=""),
        sa.Column("recording_path", sa.String(512), nullable=True),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_index("ix_calls_offered", "calls", ["offered_at"])
    op.create_index("ix_calls_ended", "calls", ["ended_at"])
    op.create_index("ix_calls_site_offered", "calls", ["site", "offered_at"])
    op.create_index("ix_calls_caller", "calls", ["caller_number"])


def downgrade() -> None:
    op.drop_table("calls")
    op.drop_table("events")
