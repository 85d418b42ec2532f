"""Cardholder names and signatures: sealed at rest with a key, hidden in lists, purged."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from netpay_smart._personal import Sealer
from netpay_smart.cli import app
from netpay_smart.errors import ConfigurationError
from netpay_smart.settings import ReceiverSettings
from netpay_smart.store.schema import deliveries
from tests.wire.vectors import SEED002_APPROVED_NO_PIN

from .helpers import Live, live_receiver, wait_until

NAME = "TREJO PECINA/AGUSTIN "
BODY = json.loads(SEED002_APPROVED_NO_PIN)
SIGNATURE = BODY["hexSign"]
ORDER = BODY["orderId"]


@pytest.fixture
def key() -> str:
    return Sealer.new_key()


@pytest.fixture
def sealed(database_url: str, key: str) -> Iterator[Live]:
    """A receiver with NETPAY_ENCRYPTION_KEY set."""
    with live_receiver(database_url, encryption_key=key) as running:
        yield running


def _stored_bodies(live: Live) -> list[bytes]:
    with live.receiver.store.engines.read.connect() as connection:
        return [row.body for row in connection.execute(select(deliveries.c.body))]


def _posted(live: Live) -> dict[str, object]:
    assert live.post(SEED002_APPROVED_NO_PIN.encode()).status_code == 200
    return wait_until(
        lambda: live.api.get(f"/api/transactions/{ORDER}"),
        lambda answer: answer.status_code == 200,
        what="the transaction",
    ).json()


def test_with_a_key_names_and_signatures_are_sealed_at_rest(sealed: Live) -> None:
    """The stored body holds enc:v1: tokens, not the name or the signature, and stays JSON."""
    _posted(sealed)
    [body] = _stored_bodies(sealed)
    stored = json.loads(body)
    assert stored["customerName"].startswith("enc:v1:")
    assert stored["hexSign"].startswith("enc:v1:")
    assert NAME.strip().encode() not in body
    assert SIGNATURE[:40].encode() not in body
    assert stored["amount"] == BODY["amount"]  # everything else untouched


def test_one_transaction_page_opens_them_lists_leave_them_out(sealed: Live) -> None:
    """GET /api/transactions/{id} shows the name and signature; lists never do."""
    one = _posted(sealed)
    assert one["raw"]["customerName"] == NAME
    assert one["raw"]["hexSign"] == SIGNATURE
    listed = sealed.api.get("/api/transactions").json()["items"][0]["raw"]
    assert "customerName" not in listed
    assert "hexSign" not in listed
    delivery = sealed.api.get("/api/deliveries").json()["items"][0]["body"]
    assert json.loads(delivery)["customerName"] == "***"
    assert "enc:v1:" not in delivery


def test_without_a_key_lists_still_leave_them_out(live: Live) -> None:
    """Without encryption the page shows them, and lists still hide them."""
    one = _posted(live)
    assert one["raw"]["customerName"] == NAME
    listed = live.api.get("/api/transactions").json()["items"][0]["raw"]
    assert "customerName" not in listed
    assert "hexSign" not in listed
    assert json.loads(live.api.get("/api/deliveries").json()["items"][0]["body"])["hexSign"] == (
        "***"
    )


def test_a_bad_key_is_refused_at_start() -> None:
    """A key that is not a Fernet key stops the receiver with a hint."""
    with pytest.raises(ConfigurationError, match="not a Fernet key"):
        ReceiverSettings(
            webhook_secrets=("s" * 20,), api_token="t" * 20, encryption_key="nope"
        ).check()


def test_purge_blanks_names_and_signatures_and_says_how_many(database_url: str, key: str) -> None:
    """purge --older-than 0d empties both fields in every body; a second run changes none."""
    with live_receiver(database_url, encryption_key=key) as running:
        _posted(running)
        assert running.post(b'{"responseCode":"02","message":"Cancelado"}').status_code == 200
        runner = CliRunner()
        first = runner.invoke(app, ["purge", "--older-than", "0d", "--database-url", database_url])
        assert first.exit_code == 0, first.output
        assert "1 cuerpos depurados / bodies purged" in first.output
        again = runner.invoke(app, ["purge", "--older-than", "0d", "--database-url", database_url])
        assert "0 cuerpos depurados" in again.output
        sale = next(b for b in _stored_bodies(running) if b'"hexSign"' in b)
        assert (json.loads(sale)["customerName"], json.loads(sale)["hexSign"]) == ("", "")
        kept = runner.invoke(app, ["purge", "--database-url", database_url])  # 18 months
        assert "0 cuerpos depurados" in kept.output
        bad = runner.invoke(app, ["purge", "--older-than", "soon", "--database-url", database_url])
        assert bad.exit_code == 2
        assert "invalid period" in bad.output
