"""Run Alembic migrations from code (``netpay-smart db upgrade`` and ``serve`` call this)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from sqlalchemy import Engine

__all__ = ["alembic_config", "current_revision", "head_revision", "missing_migrations", "upgrade"]

_HERE = Path(__file__).parent


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_HERE / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision``."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def head_revision(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def missing_migrations(engine: Engine, url: str) -> list[str]:
    """The migrations this version has and the database lacks, oldest first; none when it is
    up to date, or at a revision this version does not know (a newer one, mid-upgrade)."""
    script = ScriptDirectory.from_config(alembic_config(url))
    head = script.get_current_head()
    current = current_revision(engine)
    if head is None or current == head:
        return []
    try:
        missing = script.iterate_revisions(head, current or "base")
        return [revision.revision for revision in reversed(list(missing))]
    except RevisionError:
        return []
