"""64-bit sequence columns: outbox ids, change-feed positions and audit ids

A change feed read with after=2147483648 failed on PostgreSQL, whose INTEGER is 32-bit; a busy
directory passes two billion events. SQLite's INTEGER is already 64-bit: nothing to do there.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 20:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (("outbox", "id"), ("outbox", "seq"), ("audit", "id"))


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in COLUMNS:
        op.alter_column(table, column, type_=sa.BigInteger(), existing_type=sa.Integer())
    # The identity sequences behind the ids follow their columns.
    op.execute("ALTER SEQUENCE IF EXISTS outbox_id_seq AS BIGINT")
    op.execute("ALTER SEQUENCE IF EXISTS audit_id_seq AS BIGINT")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in COLUMNS:
        op.alter_column(table, column, type_=sa.Integer(), existing_type=sa.BigInteger())
