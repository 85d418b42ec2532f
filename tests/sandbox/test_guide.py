"""docs/sandbox.md and the SDK's docstrings say what the sandbox does, and cite what exists."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from netpay_smart import sandbox
from netpay_smart.client import ENVIRONMENTS, AsyncClient, Client
from netpay_smart.errors import RuleError
from netpay_smart.sandbox import SCENARIOS, gateway, scenario_for, scenarios, terminal
from netpay_smart.sandbox import config as sandbox_config

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "sandbox.md"


def _outcome_rows(text: str) -> dict[str, str]:
    """The outcome table's rows: first cell -> second cell."""
    section = text.split("| amount |", 1)[1].split("\n\n", 1)[0]
    rows = [line.split("|")[1:3] for line in section.splitlines() if line.startswith("| ")]
    return {first.strip(): second.strip() for first, second in rows}


@pytest.mark.parametrize(
    "source",
    [GUIDE, *(Path(m.__file__ or "") for m in (sandbox, sandbox_config, gateway, terminal))],
    ids=lambda p: p.name,
)
def test_the_guide_and_the_sandbox_cite_only_what_the_repository_has(source: Path) -> None:
    """Every file or folder docs/sandbox.md and the sandbox's modules point the reader to
    exists in the repository (no notes kept elsewhere, such as seeds/ or NETPAY-FACTS.md)."""
    text = source.read_text("utf-8")
    cited = set(re.findall(r"`([\w.-]+(?:/[\w.-]+)*/(?:[\w.-]+\.(?:py|md|toml))?)`", text))
    cited |= set(re.findall(r"\b([\w.-]+(?:/[\w.-]+)*\.md)\b", text))
    cited |= set(re.findall(r"\b(seeds/[\w.-]*)", text))
    missing = [
        name
        for name in sorted(cited)
        if not any((base / name).exists() for base in (ROOT, ROOT / "src", ROOT / "docs"))
    ]
    assert missing == []


def test_the_outcome_table_names_only_triggers_below_one_peso() -> None:
    """The table lists every trigger amount, and no approved amount under one peso as if it
    were one: any other amount (0.01, 0.50, 0.99, 10.51) is approved."""
    for text in (GUIDE.read_text("utf-8"), scenarios.__doc__ or ""):
        rows = _outcome_rows(text.replace("``", "`"))
        listed = {Decimal(a) for first in rows for a in re.findall(r"\d+\.\d\d", first)}
        assert listed == set(SCENARIOS)
        assert rows["any other amount"].startswith("approved, VISA credit")
    for amount in ("0.01", "0.50", "0.99", "1.00", "10.51", "25.50"):
        assert scenario_for(Decimal(amount)).name == "approved"


@pytest.mark.parametrize("cls", [Client, AsyncClient])
def test_the_client_example_talks_to_this_sandbox(cls: type) -> None:
    """The docstring example's gateway is the local sandbox its receiver is wired to
    (``netpay-smart dev``), and the docstring says ``"sandbox"`` is NetPay's hosted one."""
    doc = cls.__doc__ or ""
    example = "\n".join(
        line for line in doc.splitlines() if line.strip().startswith((">>>", "..."))
    )
    [environment] = re.findall(r'environment="([^"]+)"', example)
    gateway_url = httpx.URL(ENVIRONMENTS.get(environment, environment))
    assert (gateway_url.host, gateway_url.port) == ("127.0.0.1", 3334)
    assert 'receiver_url="http://127.0.0.1:8000"' in example
    said = " ".join(doc.split())
    assert '``"sandbox"`` is NetPay\'s hosted test server' in said
    assert httpx.URL(ENVIRONMENTS["sandbox"]).host in said
    guide = " ".join(GUIDE.read_text("utf-8").split())
    assert 'environment="sandbox"' in guide
    assert "means NetPay's hosted QA gateway" in guide


@pytest.mark.parametrize("cls", [Client, AsyncClient])
def test_the_client_docstring_says_when_the_group_is_checked(cls: type) -> None:
    """The docstring says the Smart Accounts group is checked only with ``smart_accounts=``,
    and with it a store outside the group is refused before anything is sent."""
    said = " ".join((cls.__doc__ or "").split())
    assert '``smart_accounts={"0821000119": ["455311", "455312"]}``' in said
    assert "refused before sending (:class:`RuleError`)" in said
    assert "Without the group nothing is checked" in said

    sent: list[httpx.Request] = []

    def nothing_may_be_sent(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500)

    with (
        Client(
            environment="http://127.0.0.1:3334",
            username="Nacional",
            password="netpay",
            smart_accounts={"0821000119": ["455311", "455312"]},
            transport=httpx.MockTransport(nothing_may_be_sent),
        ) as client,
        pytest.raises(RuleError, match="not in terminal 0821000119's Smart Accounts"),
    ):
        client.sale(
            serial_number="0821000119", store_id="9194", amount=Decimal("1.00"),
            smart_accounts=True,
        )  # fmt: skip
    assert sent == []
