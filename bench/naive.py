"""The reference of what an integrator writes: FastAPI, a pydantic model of the result, an
SQLAlchemy ORM session per request, one commit per request, a sync ``def`` endpoint.

Written the way the FastAPI and SQLAlchemy tutorials teach it, on SQLite with its defaults
(rollback journal, ``synchronous=FULL``): correct (it commits before answering) but slow.
Nothing here is tuned on purpose; it is the baseline the receiver is compared with.

    NAIVE_DATABASE_URL=sqlite:///naive.sqlite3 python -m uvicorn bench.naive:app
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict
from sqlalchemy import DateTime, Numeric, String, Text, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

DATABASE_URL = os.environ.get("NAIVE_DATABASE_URL", "sqlite:///./naive.sqlite3")
WEBHOOK_SECRET = os.environ.get("NETPAY_WEBHOOK_SECRET", "change-me-change-me")

engine = create_engine(DATABASE_URL, connect_args={"check_same_thread": False})
SessionLocal = sessionmaker(bind=engine, autoflush=False)


class Base(DeclarativeBase):
    pass


class Transaction(Base):
    __tablename__ = "transactions"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    terminal_id: Mapped[str | None] = mapped_column(String(32), index=True)
    response_code: Mapped[str] = mapped_column(String(8))
    message: Mapped[str | None] = mapped_column(String(200))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    tip_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    auth_code: Mapped[str | None] = mapped_column(String(16))
    folio_number: Mapped[str | None] = mapped_column(String(64))
    card_type: Mapped[str | None] = mapped_column(String(8))
    card_brand: Mapped[str | None] = mapped_column(String(32))
    last4: Mapped[str | None] = mapped_column(String(4))
    raw: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


Base.metadata.create_all(engine)


class TerminalResult(BaseModel):
    """The terminal's result, as much of it as the integrator needs."""

    model_config = ConfigDict(extra="allow")

    responseCode: str
    message: str | None = None
    orderId: str | None = None
    terminalId: str | None = None
    amount: Decimal | None = None
    tipAmount: Decimal | None = None
    authCode: str | None = None
    folioNumber: str | None = None
    cardType: str | None = None
    cardTypeName: str | None = None
    cardNumber: str | None = None
    bin: str | None = None
    bankName: str | None = None
    hexSign: str | None = None
    isRePrint: bool | None = None
    traceability: dict[str, Any] | None = None


app = FastAPI(title="naive NetPay receiver")


def get_db() -> Iterator[Session]:
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()


@app.post("/webhook/{secret}")
def webhook(
    secret: str, result: TerminalResult, db: Annotated[Session, Depends(get_db)]
) -> dict[str, str]:
    if secret != WEBHOOK_SECRET:
        raise HTTPException(status_code=404)
    transaction = Transaction(
        order_id=result.orderId,
        terminal_id=result.terminalId,
        response_code=result.responseCode,
        message=result.message,
        amount=result.amount,
        tip_amount=result.tipAmount,
        auth_code=result.authCode,
        folio_number=result.folioNumber,
        card_type=result.cardType,
        card_brand=result.cardTypeName,
        last4=(result.cardNumber or "")[-4:] or None,
        raw=result.model_dump_json(),
        received_at=datetime.now(UTC),
    )
    db.add(transaction)
    db.commit()
    db.refresh(transaction)
    return {"code": "00", "message": "Recibido"}


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}
