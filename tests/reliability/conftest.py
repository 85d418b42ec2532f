"""A receiver per test module, on SQLite and on PostgreSQL, for the robustness tests.

Hypothesis runs many examples against one server, so the server is module-scoped (a
function-scoped server would be rebuilt for nothing, and Hypothesis rejects function-scoped
fixtures). ``database_url`` is function-scoped, hence the module-scoped twin here.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import PG_URL, postgres_schema
from tests.receiver.helpers import Live, live_receiver

#: Every receiver here: no rate limit on failures (fuzzing fails a lot on purpose), a short
#: long-poll cap so that ``GET /api/pushes/{id}?wait=`` cannot hold a test for two minutes.
OVERRIDES = {"auth_failure_limit": 0, "long_poll_max": 0.5}


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def module_live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    """One receiver for the whole module, on SQLite (a file) or PostgreSQL (a schema)."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("reliability") / "netpay.sqlite3"
        with live_receiver(f"sqlite:///{path}", **OVERRIDES) as running:
            yield running
        return
    if not PG_URL:
        pytest.skip("PostgreSQL variant: set NETPAY_TEST_DATABASE_URL=postgresql://... to run it")
    with postgres_schema() as url, live_receiver(url, **OVERRIDES) as running:
        yield running
