"""PostgreSQL: the assigner's round as one function, ``mr_assign_events`` (one round trip).

The assigner (``store/events.py``) used to send BEGIN, the barrier, the assignment and COMMIT:
four round trips after every few commits. The function runs the same statements in the one
transaction of the statement that calls it. SQLite has no pending events, so the migration
does nothing there.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# The statements of store/events.py's assign_round before this revision, unchanged but for
# their parameters; that module's docstring says why they are correct, and why in a VOLATILE
# function they still are (each statement takes its own snapshot in READ COMMITTED; the lock
# is held to the end of the calling statement's transaction).
_CREATE = """
CREATE FUNCTION mr_assign_events(do_probe boolean, max_batch bigint) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    high_water bigint;
    moved_count bigint;
BEGIN
    IF do_probe AND NOT coalesce((SELECT min(cursor) < 0 FROM events), false) THEN
        RETURN 0;
    END IF;
    PERFORM pg_advisory_xact_lock(
        19794, (('events_pending'::regclass)::oid::bigint - 2147483648)::int);
    SELECT CASE WHEN is_called THEN last_value ELSE 0 END INTO high_water FROM events_pending;
    IF high_water = 0 THEN
        RETURN 0;
    END IF;
    WITH h AS (SELECT last_cursor AS head FROM event_log WHERE id = 1),
    p AS (SELECT cursor AS pending, row_number() OVER (ORDER BY cursor DESC) AS n
          FROM events WHERE cursor < 0 AND cursor > -(high_water + 1) * 1048576
          ORDER BY cursor DESC LIMIT max_batch),
    moved AS (UPDATE events SET cursor = h.head + p.n FROM p, h
              WHERE events.cursor = p.pending RETURNING 1)
    UPDATE event_log SET last_cursor = last_cursor + (SELECT count(*) FROM moved)
    WHERE id = 1 RETURNING (SELECT count(*) FROM moved) INTO moved_count;
    RETURN moved_count;
END
$fn$
"""


def upgrade() -> None:
    """Create the function (PostgreSQL only)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_CREATE)


def downgrade() -> None:
    """Drop it (PostgreSQL only): the previous revision's server sends the statements itself."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION mr_assign_events(boolean, bigint)")
