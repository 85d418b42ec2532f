"""The synchronous client. Its twin is ``_async.py``; read them side by side."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import httpx

from ..errors import APIError, TerminalBusyError, TransportError
from ._auth import StoredToken, TokenAuth, TokenStore
from ._base import (
    DEFAULT_WAIT,
    RECOVERY_WAIT,
    ClientSettings,
    Outcome,
    PushPlan,
    is_completed,
    needs_verifying,
    outcome_from_push,
    parse_push,
    pause_after,
    plan_cancel,
    plan_recovery,
    plan_reprint,
    plan_sale,
    poll_seconds,
    push_answer,
    push_failed,
    push_request,
    push_transport_error,
    transport_error,
    unknown_push,
    utcnow,
    verified,
)

__all__ = ["Client", "Push"]


class Push:
    """A push the terminal received; :meth:`wait` returns its :class:`Outcome`."""

    def __init__(self, client: Client, plan: PushPlan, started: float) -> None:
        self._client = client
        self.plan = plan
        self.id = plan.push_id
        self.folio_number = plan.folio_number
        self._started = started

    def __repr__(self) -> str:
        return f"Push(id={self.id!r}, kind={self.plan.kind!r}, folio={self.folio_number!r})"

    def wait(self, timeout: float = DEFAULT_WAIT, *, recover: bool = True) -> Outcome:
        """Wait for the terminal's result. Past ``timeout``, a sale's status is recovered with
        a reprint by folio (ticket disabled) before giving up as ``unknown``; a sale answered
        ``05`` is checked the same way (reversed, pending reversal, declined or approved)."""
        return self._client._wait(self.plan, self._started, timeout, recover=recover)


class Client:
    """Push sales, reprints and cancellations to NetPay Smart terminals.

    Against ``netpay-smart dev`` (its sandbox on port 3334, its receiver on 8000):

    >>> with Client(environment="http://127.0.0.1:3334", username="Nacional",
    ...             password="netpay", receiver_url="http://127.0.0.1:8000",
    ...             api_token="...") as client:
    ...     outcome = client.sale(serial_number="0821000119", store_id="455311",
    ...                           amount=Decimal("1.01"), wait=True)   # doctest: +SKIP

    ``environment`` is a base URL or one of NetPay's own: ``"sandbox"`` is NetPay's hosted
    test server (``http://nubeqa.netpay.com.mx:3334``), not ``netpay-smart sandbox``;
    ``"production"``; ``"api-154"``.

    ``smart_accounts={"0821000119": ["455311", "455312"]}`` gives each terminal's Smart
    Accounts group: a push with ``smart_accounts=True`` to a store outside it is then refused
    before sending (:class:`RuleError`). Without the group nothing is checked, and the
    terminal refuses the store itself: a session error on its screen and no result, so
    ``wait=True`` ends ``unknown``.

    ``clock`` (the wall time NetPay's rules go by), ``timer`` and ``sleep`` (how waiting for a
    result measures and passes time) are there for tests to replace.
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        environment: str | None = None,
        username: str | None = None,
        password: str | None = None,
        auth_string: str | None = None,
        receiver_url: str | None = None,
        api_token: str | None = None,
        smart_accounts: Mapping[str, Any] | None = None,
        refresh_grant: bool = False,
        token_store: TokenStore | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        receiver_transport: httpx.BaseTransport | None = None,
        clock: Callable[[], datetime] = utcnow,
        timer: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = ClientSettings.from_options(
            base_url=base_url,
            environment=environment,
            username=username,
            password=password,
            auth_string=auth_string,
            receiver_url=receiver_url,
            api_token=api_token,
            smart_accounts=smart_accounts,
            refresh_grant=refresh_grant,
            timeout=timeout,
        )
        self._clock = clock
        self._timer, self._sleep = timer, sleep  # how waits are measured and paused
        self.auth = TokenAuth(
            base_url=self.settings.base_url,
            auth_string=self.settings.auth_string,
            username=self.settings.username,
            password=self.settings.password,
            refresh_grant=refresh_grant,
            store=token_store,
            clock=clock,
        )
        self._http = httpx.Client(timeout=timeout, transport=transport)
        self._receiver: httpx.Client | None = None
        if self.settings.receiver_url and self.settings.api_token:
            self._receiver = httpx.Client(
                base_url=self.settings.receiver_url,
                headers={"Authorization": f"Bearer {self.settings.api_token}"},
                timeout=timeout,
                transport=receiver_transport,
            )
        self._busy: set[str] = set()
        self._busy_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Client(base_url={self.settings.base_url!r})"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()
        if self._receiver is not None:
            self._receiver.close()

    # -- the operations ---------------------------------------------------------------------

    def token(self) -> datetime:
        """Log in now (or reuse a valid token); returns when the token stops being used."""
        with self.auth._sync_lock:
            current = self.auth._current()
            if current is not None:
                return current.expires_at
            renewal = self.auth._renewal()  # the same steps as the auth flow, fallback included
            request = next(renewal)
            while True:
                response = self._send(request)
                try:
                    request = renewal.send(response)
                except StopIteration as done:
                    stored: StoredToken = done.value
                    return stored.expires_at

    def sale(
        self,
        *,
        serial_number: str,
        store_id: str,
        amount: Any,
        folio_number: str | None = None,
        traceability: Mapping[str, Any] | None = None,
        msi: int | None = None,
        print_ticket: bool = True,
        smart_accounts: bool = False,
        wait: bool = False,
        timeout: float = DEFAULT_WAIT,
    ) -> Outcome | Push:
        """Push a sale; with ``wait`` return its :class:`Outcome`, else a :class:`Push`."""
        plan = plan_sale(
            self.settings,
            serial_number=serial_number,
            store_id=store_id,
            amount=amount,
            folio_number=folio_number,
            traceability=traceability,
            msi=msi,
            print_ticket=print_ticket,
            smart_accounts=smart_accounts,
            now=self._clock(),
        )
        return self._push(plan, wait=wait, timeout=timeout)

    def reprint(
        self,
        *,
        serial_number: str,
        store_id: str,
        order_id: str | None = None,
        folio_number: str | None = None,
        traceability: Mapping[str, Any] | None = None,
        print_ticket: bool = True,
        smart_accounts: bool = False,
        wait: bool = False,
        timeout: float = DEFAULT_WAIT,
    ) -> Outcome | Push:
        """Reprint by ``order_id``, or recover a result by ``folio_number``."""
        plan = plan_reprint(
            self.settings,
            serial_number=serial_number,
            store_id=store_id,
            order_id=order_id,
            folio_number=folio_number,
            traceability=traceability,
            print_ticket=print_ticket,
            smart_accounts=smart_accounts,
        )
        return self._push(plan, wait=wait, timeout=timeout)

    def cancel(
        self,
        *,
        serial_number: str,
        store_id: str,
        order_id: str,
        traceability: Mapping[str, Any] | None = None,
        print_ticket: bool = True,
        smart_accounts: bool = False,
        wait: bool = False,
        timeout: float = DEFAULT_WAIT,
    ) -> Outcome | Push:
        """Cancel a sale in full: same day, before 20:00 Mexico City time."""
        plan = plan_cancel(
            self.settings,
            serial_number=serial_number,
            store_id=store_id,
            order_id=order_id,
            traceability=traceability,
            print_ticket=print_ticket,
            smart_accounts=smart_accounts,
            now=self._clock(),
        )
        return self._push(plan, wait=wait, timeout=timeout)

    # -- I/O --------------------------------------------------------------------------------

    def _send(self, request: httpx.Request, **kw: Any) -> httpx.Response:
        try:
            return self._http.send(request, **kw)
        except httpx.HTTPError as exc:
            raise transport_error(exc) from exc

    def _receiver_call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        assert self._receiver is not None
        try:
            return self._receiver.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise TransportError(f"cannot reach the receiver: {exc}") from exc

    def _register(self, plan: PushPlan, ttl: float, *, exclusive: bool = True) -> None:
        self.settings.require_receiver()
        registration = plan.registration(ttl, exclusive=exclusive)
        response = self._receiver_call("POST", "/api/pushes", json=registration)
        if response.status_code == 409:
            raise TerminalBusyError(
                f"terminal {plan.serial_number} is waiting for another result",
                status=409,
                code="terminal_busy",
                body=response.json(),
            )
        if response.status_code != 201:
            raise APIError(
                f"the receiver refused the push (HTTP {response.status_code})",
                status=response.status_code,
                body=response.text[:500],
            )

    def _push(self, plan: PushPlan, *, wait: bool, timeout: float) -> Outcome | Push:
        if wait:
            self.settings.require_receiver()  # before anything reaches the terminal
        with self._busy_lock:
            if plan.serial_number in self._busy:
                raise TerminalBusyError(
                    f"terminal {plan.serial_number} already has a push in flight",
                    code="terminal_busy",
                )
            self._busy.add(plan.serial_number)
        started = self._timer()
        try:
            if self._receiver is not None:
                self._register(plan, timeout + RECOVERY_WAIT)
            try:
                parse_push(self._send(push_request(self.settings, plan), auth=self.auth))
            except Exception as exc:
                if self._receiver is not None:
                    # Free the terminal only if the push never reached it; if the receiver is
                    # unreachable too, the push expires there by itself.
                    state = "failed" if push_failed(exc) else "sent"
                    with contextlib.suppress(TransportError):
                        self._receiver_call(
                            "PATCH", f"/api/pushes/{plan.push_id}", json={"state": state}
                        )
                if isinstance(exc, TransportError):
                    raise push_transport_error(plan, exc) from exc
                raise
            push = Push(self, plan, started)
            return push.wait(timeout) if wait else push
        finally:
            with self._busy_lock:
                self._busy.discard(plan.serial_number)

    def _poll(self, push_id: str, seconds: float) -> dict[str, Any] | None:
        """The push, long-polled up to ``seconds``; ``None`` if the receiver cannot tell now
        (503: its database is down; or unreachable)."""
        try:
            response = self._receiver_call(
                "GET",
                f"/api/pushes/{push_id}",
                params={"wait": f"{seconds:.3f}"},
                timeout=seconds + 10,
            )
            return push_answer(push_id, response.status_code, response.json)
        except TransportError:
            return None

    def _wait_for(self, push_id: str, seconds: float) -> dict[str, Any] | None:
        """Poll until the push completes or ``seconds`` have passed, however early polls end."""
        deadline = self._timer() + seconds
        found = None
        while True:
            asked, began = poll_seconds(deadline - self._timer()), self._timer()
            found = self._poll(push_id, asked) or found
            now = self._timer()
            if is_completed(found) or now >= deadline:
                return found
            pause = pause_after(asked, now - began, deadline - now)
            if pause:
                self._sleep(pause)

    def _wait(self, plan: PushPlan, started: float, timeout: float, *, recover: bool) -> Outcome:
        self.settings.require_receiver()
        remaining = max(timeout - (self._timer() - started), 0.0)
        found = self._wait_for(plan.push_id, remaining) or unknown_push(plan)
        recovered = False
        if recover and plan.kind == "sale" and not is_completed(found):
            # The result never came: the reprint by folio that recovers it completes the sale.
            if self._recover(plan) is not None:
                found = self._wait_for(plan.push_id, RECOVERY_WAIT) or found
                recovered = is_completed(found)
        elif recover and plan.kind == "sale" and needs_verifying(found):
            # A 05: ask the terminal whether the bank approved, and whether it was reversed.
            # The terminal is free again: the check holds it, as any push would.
            check = self._recover(plan, exclusive=True)
            checked = self._wait_for(check.push_id, RECOVERY_WAIT) if check else None
            if checked is not None and is_completed(checked):
                found, recovered = verified(found, checked), True
        return outcome_from_push(found, elapsed=self._timer() - started, recovered=recovered)

    def _recover(self, plan: PushPlan, *, exclusive: bool = False) -> PushPlan | None:
        """Ask the terminal for the sale's status: a reprint by folio, no ticket. The reprint
        sent, or ``None`` if it could not be (the terminal busy with another push, when
        ``exclusive``). Not exclusive while the sale's own push, still open, holds it."""
        recovery = plan_recovery(self.settings, plan)
        try:
            self._register(recovery, RECOVERY_WAIT, exclusive=exclusive)
            parse_push(self._send(push_request(self.settings, recovery), auth=self.auth))
        except (APIError, TransportError):
            return None
        return recovery
