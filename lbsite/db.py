"""Database pieces that must behave the same on SQLite (the embedded default) and PostgreSQL.

SQLite is a real backend here, not a test convenience (ARCHITECTURE.md s7, s9): what
PostgreSQL spells one way, SQLite gets an equivalent that keeps the feature.
"""

from __future__ import annotations

from django.db import connection, models
from django.db.models.expressions import OrderBy


def _nulls_as_sqlite_sorts_them(order: OrderBy) -> bool:
    """Whether `order`'s NULLS modifier says what SQLite does anyway: SQLite sorts NULL below
    every value, so `DESC` puts NULLs last and `ASC` puts them first."""
    return order.nulls_last if order.descending else order.nulls_first


def _sqlite_order(expression):
    """An ORDER BY term SQLite accepts in CREATE INDEX, sorting the same way.

    SQLite refuses `NULLS LAST/FIRST` in an index: the modifier is dropped where it says
    what SQLite does anyway, and an order SQLite cannot index is refused.
    """
    if not isinstance(expression, OrderBy) or not (expression.nulls_first or expression.nulls_last):
        return expression
    if not _nulls_as_sqlite_sorts_them(expression):
        raise ValueError(f"SQLite cannot index {expression!r}: its NULLs sort the other way")
    return OrderBy(expression.expression, descending=expression.descending)


class NullsOrderBy(OrderBy):
    """ORDER BY with NULLS LAST/FIRST that an index of the same order serves on SQLite too.

    SQLite's planner matches an index to `x DESC` but not to `x DESC NULLS LAST`, though
    both sort alike there; so where the modifier is redundant it is left out on SQLite.
    """

    def as_sqlite(self, compiler, connection, **extra_context):
        if (self.nulls_first or self.nulls_last) and _nulls_as_sqlite_sorts_them(self):
            plain = OrderBy(self.expression, descending=self.descending)
            return plain.as_sql(compiler, connection, **extra_context)
        return self.as_sql(compiler, connection, **extra_context)


def nulls_last(expression, *, descending: bool) -> NullsOrderBy:
    """`expression` ordered with NULLs last in either direction, on SQLite and PostgreSQL alike."""
    return NullsOrderBy(expression, descending=descending, nulls_last=True)


class NullsOrderedIndex(models.Index):
    """An expression index with `NULLS LAST/FIRST` that migrates on SQLite too.

    On PostgreSQL it is exactly `models.Index`. On SQLite the same order is written
    without the modifier (see `_sqlite_order`), so a query ordered `DESC NULLS LAST` reads
    the same rows in the same order on both.
    """

    def create_sql(self, model, schema_editor, using="", **kwargs):
        if schema_editor.connection.vendor != "sqlite" or not self.expressions:
            return super().create_sql(model, schema_editor, using=using, **kwargs)
        plain = models.Index(*(_sqlite_order(e) for e in self.expressions), name=self.name,
                             db_tablespace=self.db_tablespace, opclasses=self.opclasses,
                             condition=self.condition, include=self.include)
        return plain.create_sql(model, schema_editor, using=using, **kwargs)


MIGRATE_HINT = "run `make migrate` (or `python manage.py migrate`)"


class NotMigrated(Exception):
    """The database lacks migrations this build needs; the message is one line saying what to run."""


def ensure_migrated(using: str = "default") -> None:
    """Raise NotMigrated unless every migration of this build is applied to the database.

    A `migrate` interrupted half-way (Ctrl-C, a crash, the SQLite file copied mid-way)
    leaves some apps' tables missing; a command that went on would fail later, after the
    load was sent. The check reads only the migration table, so it costs one query.
    """
    from django.db import DatabaseError, connections
    from django.db.migrations.executor import MigrationExecutor

    connection = connections[using]
    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as error:
        raise NotMigrated(f"the database {connection.settings_dict['NAME']} cannot be read ({error}): "
                          f"{MIGRATE_HINT}") from error
    if pending:
        first = pending[0][0]
        raise NotMigrated(f"the database is not fully migrated ({len(pending)} migration(s) pending, first "
                          f"{first.app_label}.{first.name}): {MIGRATE_HINT}")


def hold_lock(key: int) -> None:
    """Hold the lock numbered `key` until the current transaction ends, so that callers taking it
    go one at a time (call it inside `transaction.atomic()`). PostgreSQL: a transaction-level
    advisory lock. SQLite: nothing to do, since every write transaction here begins IMMEDIATE and so
    already holds the database's one write lock (lbsite.env.with_sqlite_options)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])
