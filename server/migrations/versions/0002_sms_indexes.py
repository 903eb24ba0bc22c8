"""sms_messages indexes: drop the phone index that (phone, created_at) already covers; index
worker_id, elder_id and in_reply_to_id only where set; add a partial index of the questions
asked of each elder

Every SMS in or out updates each index of sms_messages (an inbound SMS and its answer: two
rows). A look-up by phone alone is served by ix_sms_phone_created as well. A message has a
worker or an elder, seldom both, and only immediate answers have in_reply_to_id: partial
indexes leave out the rows without. Every reply of an elder reads their last question: the
partial index holds only the questions (wellness checks, rating requests).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


SPARSE_KEYS = ("worker_id", "elder_id", "in_reply_to_id")


def upgrade() -> None:
    with op.batch_alter_table("sms_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sms_messages_phone"))
        for column in SPARSE_KEYS:
            batch_op.drop_index(f"ix_sms_messages_{column}")
            batch_op.create_index(
                f"ix_sms_messages_{column}",
                [column],
                unique=False,
                postgresql_where=sa.text(f"{column} IS NOT NULL"),
                sqlite_where=sa.text(f"{column} IS NOT NULL"),
            )
        batch_op.create_index(
            "ix_sms_questions",
            ["elder_id", "created_at"],
            unique=False,
            postgresql_where=sa.text("question IS NOT NULL"),
            sqlite_where=sa.text("question IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("sms_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_sms_questions")
        for column in SPARSE_KEYS:
            batch_op.drop_index(f"ix_sms_messages_{column}")
            batch_op.create_index(f"ix_sms_messages_{column}", [column], unique=False)
        batch_op.create_index(batch_op.f("ix_sms_messages_phone"), ["phone"], unique=False)
