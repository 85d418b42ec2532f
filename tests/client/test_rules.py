"""Rules checked before anything is sent, push bodies, folios, settings. No network: the fake
gateway records requests, and a refused call must leave it with none."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import anyio
import httpx
import pytest

from netpay_smart._pci import mask_pans
from netpay_smart.client import ENVIRONMENTS, Client, OutcomeStatus, Push
from netpay_smart.client._base import outcome_from_push, plan_recovery, plan_sale
from netpay_smart.errors import ConfigurationError, RuleError
from netpay_smart.sandbox import ManualClock
from netpay_smart.wire import MEXICO_CITY

from .fakes import PASSWORD, USERNAME, FakeGateway, async_client, client, sale_kwargs

NOON_CDMX = datetime(2024, 3, 5, 12, 0, tzinfo=MEXICO_CITY)
SERIAL = "0821000119"


def order_id(moment: datetime, serial: str = SERIAL) -> str:
    """NetPay's orderId for a sale made at ``moment`` (yyMMddHHmmss in Mexico City)."""
    return f"{moment.astimezone(MEXICO_CITY):%y%m%d%H%M%S}-{serial}"


def sent_sale(gateway: FakeGateway) -> dict[str, Any]:
    [push] = gateway.pushes
    return gateway.body(push)


# -- amounts and months -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "amount",
    [0, -1, "0.00", Decimal("-0.01"), "1.001", Decimal("0.001"), 1.5, "abc", "", "NaN", "Infinity"],
)
def test_bad_amounts_are_refused_before_sending(amount: Any) -> None:
    """Zero, negative, three-decimal, float and non-numeric amounts raise RuleError, no request."""
    gateway = FakeGateway()
    with client(gateway) as sdk, pytest.raises(RuleError) as caught:
        sdk.sale(**sale_kwargs(amount=amount))
    assert gateway.requests == []
    assert "amount" in str(caught.value)


@pytest.mark.parametrize("amount", ["1e30", "12345678901234567890123456789", Decimal("1e26")])
def test_huge_amounts_are_refused_with_a_rule_error(amount: Any) -> None:
    """An absurdly large amount raises RuleError (a NetPayError), not decimal.InvalidOperation."""
    gateway = FakeGateway()
    with client(gateway) as sdk, pytest.raises(RuleError):
        sdk.sale(**sale_kwargs(amount=amount))
    assert gateway.requests == []


def test_a_float_amount_is_refused_with_a_hint_to_use_decimal() -> None:
    """amount=1.5 (a float) is refused, and the message says to pass Decimal('1.5')."""
    gateway = FakeGateway()
    with client(gateway) as sdk, pytest.raises(RuleError, match=r"Decimal\('1\.5'\)"):
        sdk.sale(**sale_kwargs(amount=1.5))
    assert gateway.requests == []


@pytest.mark.parametrize("msi", [0, 1, 5, 24])
def test_months_without_interest_outside_3_6_9_12_18_are_refused(msi: int) -> None:
    """msi must be 3, 6, 9, 12 or 18: anything else raises RuleError, nothing sent."""
    gateway = FakeGateway()
    with client(gateway) as sdk, pytest.raises(RuleError, match="3, 6, 9, 12, 18"):
        sdk.sale(**sale_kwargs(msi=msi))
    assert gateway.requests == []


def test_valid_months_without_interest_are_sent() -> None:
    """msi=6 goes out as the number 6."""
    gateway = FakeGateway()
    with client(gateway) as sdk:
        sdk.sale(**sale_kwargs(msi=6))
    assert sent_sale(gateway)["msi"] == 6


# -- cancellations ----------------------------------------------------------------------------


def test_cancel_of_yesterdays_order_is_refused_pointing_to_a_refund() -> None:
    """An orderId from yesterday (Mexico City) cannot be cancelled: RuleError naming a refund."""
    gateway = FakeGateway()
    yesterday = order_id(NOON_CDMX - timedelta(days=1))
    with (
        client(gateway, clock=ManualClock(NOON_CDMX).now) as sdk,
        pytest.raises(RuleError, match="refund") as caught,
    ):
        sdk.cancel(serial_number=SERIAL, store_id="455311", order_id=yesterday)
    assert yesterday in str(caught.value)
    assert gateway.requests == []


@pytest.mark.parametrize(
    "now",
    [
        datetime(2024, 3, 5, 20, 0, tzinfo=MEXICO_CITY),
        datetime(2024, 3, 5, 23, 59, tzinfo=MEXICO_CITY),
        datetime(2024, 3, 6, 2, 0, tzinfo=UTC),  # 20:00 in Mexico City, already the 6th in UTC
    ],
)
def test_cancel_at_or_after_20_00_mexico_city_is_refused_pointing_to_a_refund(
    now: datetime,
) -> None:
    """From 20:00 America/Mexico_City a same-day sale needs a refund: RuleError, nothing sent."""
    gateway = FakeGateway()
    sale = order_id(datetime(2024, 3, 5, 10, 0, tzinfo=MEXICO_CITY))
    with (
        client(gateway, clock=ManualClock(now).now) as sdk,
        pytest.raises(RuleError, match="20:00") as caught,
    ):
        sdk.cancel(serial_number=SERIAL, store_id="455311", order_id=sale)
    assert "refund" in str(caught.value)
    assert gateway.requests == []


@pytest.mark.parametrize(
    ("now", "made"),
    [
        # 19:59:59 in Mexico City: the last second a cancellation is allowed.
        (
            datetime(2024, 3, 5, 19, 59, 59, tzinfo=MEXICO_CITY),
            datetime(2024, 3, 5, 9, 0, tzinfo=MEXICO_CITY),
        ),
        # 01:00 on the 5th in Mexico City is 07:00 UTC; the sale at 00:30 is the same day.
        (
            datetime(2024, 3, 5, 7, 0, tzinfo=UTC),
            datetime(2024, 3, 5, 0, 30, tzinfo=MEXICO_CITY),
        ),
    ],
)
def test_same_day_cancel_before_20_00_is_sent(now: datetime, made: datetime) -> None:
    """A cancellation the same Mexico City day before 20:00 goes to the gateway."""
    gateway = FakeGateway()
    sale = order_id(made)
    with client(gateway, clock=ManualClock(now).now) as sdk:
        sdk.cancel(serial_number=SERIAL, store_id="455311", order_id=sale)
    assert gateway.kinds() == ["token", "cancel"]
    assert gateway.body(gateway.pushes[0])["orderId"] == sale


def test_cancel_uses_the_mexico_city_date_not_the_utc_date() -> None:
    """At 01:00 CDMX on the 5th, a sale from 23:30 CDMX on the 4th (same UTC day) is refused."""
    gateway = FakeGateway()
    now = datetime(2024, 3, 5, 7, 0, tzinfo=UTC)
    sale = order_id(datetime(2024, 3, 4, 23, 30, tzinfo=MEXICO_CITY))
    with (
        client(gateway, clock=ManualClock(now).now) as sdk,
        pytest.raises(RuleError, match="refund"),
    ):
        sdk.cancel(serial_number=SERIAL, store_id="455311", order_id=sale)
    assert gateway.requests == []


def test_cancel_without_an_order_id_is_refused() -> None:
    """An empty order_id is refused before sending."""
    gateway = FakeGateway()
    with client(gateway) as sdk, pytest.raises(RuleError, match="order_id"):
        sdk.cancel(serial_number=SERIAL, store_id="455311", order_id="  ")
    assert gateway.requests == []


@pytest.mark.parametrize("order", [None, 240305120000])
def test_cancel_with_an_order_id_that_is_not_a_string_is_refused(order: Any) -> None:
    """cancel(order_id=None) or an int raises RuleError naming order_id, nothing sent."""
    gateway = FakeGateway()
    with client(gateway) as sdk, pytest.raises(RuleError, match="order_id"):
        sdk.cancel(serial_number=SERIAL, store_id="455311", order_id=order)
    assert gateway.requests == []


# -- Smart Accounts, reprints, identifiers ----------------------------------------------------


def test_a_store_outside_the_smart_accounts_group_is_refused() -> None:
    """With smart_accounts=True a store not in the terminal's group raises RuleError."""
    gateway = FakeGateway()
    groups = {SERIAL: ["455311", "455312"]}
    with client(gateway, smart_accounts=groups) as sdk:
        with pytest.raises(RuleError, match="455311, 455312"):
            sdk.sale(**sale_kwargs(store_id="9194", smart_accounts=True))
        with pytest.raises(RuleError, match="Smart Accounts"):
            sdk.reprint(serial_number=SERIAL, store_id="9194", order_id="x", smart_accounts=True)
        assert gateway.requests == []
        sdk.sale(**sale_kwargs(store_id="455312", smart_accounts=True))
    assert gateway.kinds() == ["token", "sale"]
    assert sent_sale(gateway)["storeId"] == "455312"


@pytest.mark.parametrize(
    ("order", "folio"), [("240305120000-0821000119", "F-1"), (None, None), ("", "")]
)
def test_reprint_needs_exactly_one_of_order_id_and_folio(
    order: str | None, folio: str | None
) -> None:
    """reprint with both or neither of order_id / folio_number raises RuleError, nothing sent."""
    gateway = FakeGateway()
    with client(gateway) as sdk, pytest.raises(RuleError, match="exactly one"):
        sdk.reprint(serial_number=SERIAL, store_id="455311", order_id=order, folio_number=folio)
    assert gateway.requests == []


def test_reprint_by_folio_sends_the_empty_order_id_alongside_the_folio() -> None:
    """A reprint by folio carries "orderId": "" and "folioId", as NetPay requires."""
    gateway = FakeGateway()
    with client(gateway) as sdk:
        sdk.reprint(serial_number=SERIAL, store_id="455311", folio_number="CAJA1-0007")
    body = gateway.body(gateway.pushes[0])
    assert body["orderId"] == ""
    assert body["folioId"] == "CAJA1-0007"


@pytest.mark.parametrize(("serial", "store"), [("", "455311"), (SERIAL, "  ")])
def test_serial_and_store_are_required(serial: str, store: str) -> None:
    """An empty serial number or store id is refused before sending."""
    gateway = FakeGateway()
    with client(gateway) as sdk, pytest.raises(RuleError, match="required"):
        sdk.sale(**sale_kwargs(serial=serial, store_id=store))
    assert gateway.requests == []


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"serial_number": None}, "serial_number"),
        ({"store_id": None}, "store_id"),
        ({"serial_number": 821000119}, "serial_number must be a string"),
        ({"store_id": 455311}, "store_id must be a string"),
        ({"msi": 3.0}, "msi must be an int"),
        ({"traceability": "x"}, "traceability must be a dict"),
        ({"traceability": {"d": Decimal(1)}}, "traceability must hold only JSON values"),
        ({"traceability": {"n": float("nan")}}, "traceability must hold only JSON values"),
        ({"folio_number": "   "}, "folio_number is blank"),
        ({"folio_number": 7}, "folio_number must be a string"),
    ],
)
def test_sale_arguments_of_the_wrong_type_are_refused_naming_them(
    options: dict[str, Any], named: str
) -> None:
    """Ids that are None or numbers, msi=3.0, non-JSON traceability, a blank folio: RuleError."""
    gateway = FakeGateway()
    with client(gateway) as sdk, pytest.raises(RuleError, match=named):
        sdk.sale(**sale_kwargs(**options))
    assert gateway.requests == []


@pytest.mark.parametrize(
    ("order", "folio", "named"),
    [("  ", None, "order_id"), (None, " \t ", "folio_number"), (240305120000, None, "order_id")],
)
def test_reprint_with_a_blank_or_non_string_id_is_refused_naming_it(
    order: Any, folio: Any, named: str
) -> None:
    """reprint(order_id="  "), a blank folio or an int order id raise RuleError, nothing sent."""
    gateway = FakeGateway()
    with client(gateway) as sdk, pytest.raises(RuleError, match=named):
        sdk.reprint(serial_number=SERIAL, store_id="455311", order_id=order, folio_number=folio)
    assert gateway.requests == []


def test_async_arguments_of_the_wrong_type_are_refused_naming_them() -> None:
    """The AsyncClient twin refuses store_id=None, msi=3.0 and cancel(order_id=None) too."""
    gateway = FakeGateway()
    messages: list[str] = []

    async def main() -> None:
        async with async_client(gateway) as sdk:
            calls: list[Callable[[], Awaitable[Any]]] = [
                lambda: sdk.sale(**sale_kwargs(store_id=None)),
                lambda: sdk.sale(**sale_kwargs(msi=3.0)),
                lambda: sdk.cancel(serial_number=SERIAL, store_id="455311", order_id=None),  # type: ignore[arg-type]
            ]
            for call in calls:
                with pytest.raises(RuleError) as caught:
                    await call()
                messages.append(str(caught.value))

    anyio.run(main)
    assert gateway.requests == []
    assert [m.split(" ", 1)[0] for m in messages] == ["store_id", "msi", "order_id"]


def test_a_folio_longer_than_250_characters_is_refused() -> None:
    """NetPay's folio holds 250 characters: 251 raise RuleError, 250 are sent."""
    gateway = FakeGateway()
    with client(gateway) as sdk:
        with pytest.raises(RuleError, match="250"):
            sdk.sale(**sale_kwargs(folio_number="F" * 251))
        assert gateway.requests == []
        sdk.sale(**sale_kwargs(folio_number="F" * 250))
    assert sent_sale(gateway)["folioNumber"] == "F" * 250


def test_generated_folios_are_unique_and_fit_netpay() -> None:
    """Sales without a folio get distinct generated folios of at most 250 characters."""
    gateway = FakeGateway()
    with client(gateway, clock=ManualClock(NOON_CDMX).now) as sdk:
        pushes = [sdk.sale(**sale_kwargs()) for _ in range(300)]
    folios = [gateway.body(r)["folioNumber"] for r in gateway.pushes]
    assert len(set(folios)) == 300
    assert all(0 < len(f) <= 250 for f in folios)
    assert [p.folio_number for p in pushes if isinstance(p, Push)] == folios


def test_generated_folios_never_look_like_card_numbers() -> None:
    """No generated folio is altered by the receiver's card-number masking."""
    gateway = FakeGateway()
    with client(gateway, clock=ManualClock(NOON_CDMX).now) as sdk:
        for _ in range(1000):
            sdk.sale(**sale_kwargs())
    folios = [gateway.body(r)["folioNumber"] for r in gateway.pushes]
    masked = [f for f in folios if mask_pans(f.encode())[1]]
    assert masked == []


# -- push bodies ------------------------------------------------------------------------------


def test_traceability_carries_the_callers_keys_and_the_push_id() -> None:
    """The caller's traceability goes out unchanged plus "npsPushId"; their dict is untouched."""
    gateway = FakeGateway()
    mine = {"caja": "3", "venta": {"id": 81, "items": [1, 2]}}
    with client(gateway) as sdk:
        push = sdk.sale(**sale_kwargs(traceability=mine))
    assert isinstance(push, Push)
    assert sent_sale(gateway)["traceability"] == {**mine, "npsPushId": push.id}
    assert mine == {"caja": "3", "venta": {"id": 81, "items": [1, 2]}}


def test_sale_amount_is_a_json_number_with_two_decimals() -> None:
    """Amounts "1", Decimal("1.5") and 1200 go out as the JSON numbers 1.00, 1.50, 1200.00."""
    gateway = FakeGateway()
    with client(gateway) as sdk:
        for amount in ("1", Decimal("1.5"), 1200):
            sdk.sale(**sale_kwargs(amount=amount))
    raw = [r.content for r in gateway.pushes]
    assert [re.search(rb'"amount":([^,}]+)', body)[1] for body in raw] == [  # type: ignore[index]
        b"1.00",
        b"1.50",
        b"1200.00",
    ]
    assert [json.loads(body, parse_float=Decimal)["amount"] for body in raw] == [
        Decimal("1.00"),
        Decimal("1.50"),
        Decimal("1200.00"),
    ]


def test_smart_accounts_and_no_ticket_flags_are_sent_as_documented() -> None:
    """isSmartAccounts is "true" only when asked; no ticket sends disablePrintAnimation true."""
    gateway = FakeGateway()
    with client(gateway) as sdk:
        sdk.sale(**sale_kwargs(smart_accounts=True, print_ticket=False))
        sdk.sale(**sale_kwargs())
    asked, plain = (gateway.body(r) for r in gateway.pushes)
    assert asked["isSmartAccounts"] == "true"
    assert asked["disablePrintAnimation"] is True
    assert "isSmartAccounts" not in plain
    assert "disablePrintAnimation" not in plain
    assert set(plain) == {"traceability", "amount", "serialNumber", "storeId", "folioNumber"}


@pytest.mark.parametrize("smart_accounts", [True, False])
def test_the_recovery_reprint_asks_the_store_the_sale_was_made_for(smart_accounts: bool) -> None:
    """The reprint by folio that recovers a lost result carries the sale's store and its
    isSmartAccounts: without it the terminal looks in its default store, not the sale's."""
    with client(FakeGateway()) as sdk:
        settings = sdk.settings
    sale = plan_sale(
        settings, **sale_kwargs(smart_accounts=smart_accounts, print_ticket=True),
        folio_number="F-77", traceability=None, msi=None, now=datetime(2026, 12, 7, 17, tzinfo=UTC),
    )  # fmt: skip
    body = json.loads(plan_recovery(settings, sale).body)

    assert (body["serialNumber"], body["storeId"]) == (sale.serial_number, sale.store_id)
    assert (body["orderId"], body["folioId"]) == ("", "F-77")
    assert body.get("isSmartAccounts") == ("true" if smart_accounts else None)
    assert body["disablePrintAnimation"] is True


# -- settings ---------------------------------------------------------------------------------


def test_no_base_url_is_a_configuration_error_with_a_hint() -> None:
    """Without base_url, environment or NETPAY_ENVIRONMENT the client refuses to start."""
    with pytest.raises(ConfigurationError) as caught:
        Client(username=USERNAME, password=PASSWORD)
    assert caught.value.hint is not None
    assert "NETPAY_ENVIRONMENT" in caught.value.hint


@pytest.mark.parametrize(
    "credentials",
    [{"password": PASSWORD}, {"username": USERNAME}, {"username": "", "password": ""}],
)
def test_missing_credentials_are_a_configuration_error_with_a_hint(
    credentials: dict[str, str],
) -> None:
    """Without a username or a password the client refuses to start, naming the variables."""
    with pytest.raises(ConfigurationError) as caught:
        Client(environment="sandbox", **credentials)
    assert caught.value.hint is not None
    assert "NETPAY_USERNAME" in caught.value.hint


def test_an_unknown_environment_is_a_configuration_error() -> None:
    """environment="staging" (neither a known name nor a URL) is refused with the choices."""
    with pytest.raises(ConfigurationError, match="staging") as caught:
        Client(environment="staging", username=USERNAME, password=PASSWORD)
    assert caught.value.hint is not None
    assert "sandbox" in caught.value.hint


@pytest.mark.parametrize(
    ("environment", "base"),
    [
        ("sandbox", "http://nubeqa.netpay.com.mx:3334"),
        ("production", "https://suite.netpay.com.mx/gateway"),
        ("api-154", "https://api-154.api-netpay.com"),
        ("Production", "https://suite.netpay.com.mx/gateway"),
        ("http://127.0.0.1:3334/", "http://127.0.0.1:3334"),
    ],
)
def test_environments_map_to_the_documented_bases(environment: str, base: str) -> None:
    """The named environments use NETPAY-FACTS §1's bases, and the token goes there."""
    gateway = FakeGateway()
    with client(gateway, base_url=None, environment=environment) as sdk:
        assert sdk.settings.base_url == base
        sdk.token()
    assert str(gateway.requests[0].url) == base + "/oauth-service/oauth/token"


def test_the_environment_table_is_the_documented_one() -> None:
    """ENVIRONMENTS lists exactly sandbox, production and api-154 with their bases."""
    assert ENVIRONMENTS == {
        "sandbox": "http://nubeqa.netpay.com.mx:3334",
        "production": "https://suite.netpay.com.mx/gateway",
        "api-154": "https://api-154.api-netpay.com",
    }


def test_netpay_variables_configure_the_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every NETPAY_* variable of the SDK (environment, credentials, receiver) is read."""
    monkeypatch.setenv("NETPAY_ENVIRONMENT", "api-154")
    monkeypatch.setenv("NETPAY_USERNAME", "env-user")
    monkeypatch.setenv("NETPAY_PASSWORD", "env-pass")
    monkeypatch.setenv("NETPAY_AUTH_STRING", "ZW52OmVudg==")
    monkeypatch.setenv("NETPAY_RECEIVER_URL", "http://receiver.example:8000/")
    monkeypatch.setenv("NETPAY_API_TOKEN", "e" * 20)
    gateway = FakeGateway()
    with Client(transport=httpx.MockTransport(gateway.handle)) as sdk:
        settings = sdk.settings
        sdk.token()
    assert settings.base_url == "https://api-154.api-netpay.com"
    assert settings.username == "env-user"
    assert settings.password == "env-pass"
    assert settings.auth_string == "ZW52OmVudg=="
    assert settings.receiver_url == "http://receiver.example:8000"
    assert settings.api_token == "e" * 20
    assert gateway.form(gateway.requests[0])["username"] == "env-user"
    assert gateway.requests[0].headers["authorization"] == "Basic ZW52OmVudg=="


def test_arguments_win_over_netpay_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Explicit arguments take precedence over the NETPAY_* variables."""
    monkeypatch.setenv("NETPAY_ENVIRONMENT", "production")
    monkeypatch.setenv("NETPAY_USERNAME", "env-user")
    monkeypatch.setenv("NETPAY_PASSWORD", "env-pass")
    with Client(environment="sandbox", username="arg-user", password="arg-pass") as sdk:
        assert sdk.settings.base_url == "http://nubeqa.netpay.com.mx:3334"
        assert (sdk.settings.username, sdk.settings.password) == ("arg-user", "arg-pass")


def test_waiting_without_the_receiver_is_a_configuration_error_before_sending() -> None:
    """sale(wait=True) with no receiver configured raises ConfigurationError and sends nothing."""
    gateway = FakeGateway()
    with client(gateway) as sdk, pytest.raises(ConfigurationError) as caught:
        sdk.sale(**sale_kwargs(), wait=True)
    assert caught.value.hint is not None
    assert "NETPAY_RECEIVER_URL" in caught.value.hint
    assert gateway.pushes == []


def test_async_waiting_without_the_receiver_is_a_configuration_error_before_sending() -> None:
    """The async twin: sale(wait=True) with no receiver raises before pushing anything."""
    gateway = FakeGateway()

    async def main() -> None:
        async with async_client(gateway) as sdk:
            with pytest.raises(ConfigurationError):
                await sdk.sale(**sale_kwargs(), wait=True)

    anyio.run(main)
    assert gateway.pushes == []


def test_a_push_without_waiting_needs_no_receiver() -> None:
    """sale() without wait works with no receiver configured: the push is sent."""
    gateway = FakeGateway()
    with client(gateway) as sdk:
        push = sdk.sale(**sale_kwargs())
    assert isinstance(push, Push)
    assert gateway.kinds() == ["token", "sale"]


# -- outcomes ---------------------------------------------------------------------------------


def _user_cancelled(elapsed: float) -> Any:
    push = {
        "id": "p1",
        "kind": "sale",
        "state": "completed",
        "result": {
            "status": "user_cancelled",
            "body": {"responseCode": "02", "message": "Cancelado por el Usuario"},
        },
    }
    return outcome_from_push(push, elapsed=elapsed)


def test_code_02_soon_after_the_push_is_cancelled_by_user_and_late_is_timed_out() -> None:
    """A 02 within 55 s is the cashier cancelling; at 55 s or later it is the card timeout."""
    early, late = _user_cancelled(3.0), _user_cancelled(61.0)
    assert (early.status, early.code, early.approved) == (
        OutcomeStatus.CANCELLED_BY_USER,
        "02",
        False,
    )
    assert late.status is OutcomeStatus.TIMED_OUT
    assert late.message == "Cancelada en la terminal o sin tarjeta a tiempo"
