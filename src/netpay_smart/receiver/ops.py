"""Operations: metrics in Prometheus' text format, and the access-log redaction."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterable

from .._pci import mask_pans
from ..store import Applied

__all__ = ["AuthFailures", "Metrics", "RedactWebhookSecret", "install_log_redaction"]


class AuthFailures:
    """Failed authentications per client address, in a sliding window.

    A client with ``limit`` failures (a wrong API or dashboard token; the receiver counts wrong
    webhook secrets apart) within ``window`` seconds is refused with 429 until the window has
    passed, so a secret cannot be guessed by trying. Bounded: the oldest clients are forgotten
    first.

    >>> failures = AuthFailures(limit=2, window=60, clock=lambda: 0.0)
    >>> failures.failed("10.0.0.9"); failures.failed("10.0.0.9"); failures.retry_after("10.0.0.9")
    60.0
    """

    def __init__(
        self,
        *,
        limit: int = 20,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        clients: int = 10_000,
    ) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._clients = clients
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self.refused = 0

    def _recent(self, client: str) -> deque[float] | None:
        times = self._failures.get(client)
        if times is None:
            return None
        horizon = self._clock() - self._window
        while times and times[0] <= horizon:
            times.popleft()
        if not times:
            del self._failures[client]
            return None
        return times

    def failed(self, client: str) -> None:
        times = self._recent(client)
        if times is None:
            times = self._failures[client] = deque(maxlen=self._limit)
            if len(self._failures) > self._clients:
                self._failures.popitem(last=False)
        times.append(self._clock())

    def retry_after(self, client: str) -> float:
        """Seconds until ``client`` may try again; 0 when it may now."""
        times = self._recent(client)
        if times is None or len(times) < self._limit:
            return 0.0
        self.refused += 1
        return max(times[0] + self._window - self._clock(), 1.0)


_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    """Counters of one receiver process (each replica exposes its own)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[int] = Counter()
        self.outcomes: Counter[str] = Counter()
        self.problems = 0
        self.pans_masked = 0
        self._ack_buckets = [0] * len(_BUCKETS)
        self._ack_count = 0
        self._ack_sum = 0.0

    def count_request(self, status: int) -> None:
        self.requests[status] += 1

    def observe_ack(self, seconds: float) -> None:
        self._ack_count += 1
        self._ack_sum += seconds
        for i, bound in enumerate(_BUCKETS):
            if seconds <= bound:
                self._ack_buckets[i] += 1

    def record(self, applied: Iterable[Applied]) -> None:
        """Called from the writer thread after processing."""
        with self._lock:
            for item in applied:
                self.outcomes[item.outcome] += 1
                self.problems += item.problems

    def render(self) -> str:
        lines = [
            "# HELP netpay_webhook_requests_total Webhook requests by HTTP status.",
            "# TYPE netpay_webhook_requests_total counter",
        ]
        lines += [
            f'netpay_webhook_requests_total{{status="{s}"}} {n}'
            for s, n in sorted(self.requests.items())
        ]
        lines += [
            "# HELP netpay_deliveries_total Deliveries processed, by outcome "
            "(new, duplicate, conflict, reprint, probe, invalid, ...).",
            "# TYPE netpay_deliveries_total counter",
        ]
        with self._lock:
            outcomes = sorted(self.outcomes.items())
            problems = self.problems
        lines += [f'netpay_deliveries_total{{outcome="{o}"}} {n}' for o, n in outcomes]
        lines += [
            "# HELP netpay_duplicates_total Re-delivered results (counted once).",
            "# TYPE netpay_duplicates_total counter",
            f"netpay_duplicates_total {dict(outcomes).get('duplicate', 0)}",
            "# HELP netpay_conflicts_total Same key, different body (the first is kept).",
            "# TYPE netpay_conflicts_total counter",
            f"netpay_conflicts_total {dict(outcomes).get('conflict', 0)}",
            "# HELP netpay_parse_problems_total Fields the normaliser had to fix or drop.",
            "# TYPE netpay_parse_problems_total counter",
            f"netpay_parse_problems_total {problems}",
            "# HELP netpay_pans_masked_total Card numbers masked out of received bodies.",
            "# TYPE netpay_pans_masked_total counter",
            f"netpay_pans_masked_total {self.pans_masked}",
            "# HELP netpay_ack_seconds Time from request to durable acknowledgement.",
            "# TYPE netpay_ack_seconds histogram",
        ]
        lines += [
            f'netpay_ack_seconds_bucket{{le="{bound}"}} {n}'
            for bound, n in zip(_BUCKETS, self._ack_buckets, strict=True)
        ]
        lines += [
            f'netpay_ack_seconds_bucket{{le="+Inf"}} {self._ack_count}',
            f"netpay_ack_seconds_sum {self._ack_sum:.6f}",
            f"netpay_ack_seconds_count {self._ack_count}",
        ]
        return "\n".join(lines) + "\n"


# Everything after /webhook/ up to the query or the end of the path: a secret configured with
# a doubled slash ("/webhook//s3cret") is hidden too.
_SECRET_IN_PATH = re.compile(r"(/webhook(?:/|%2f))[^?\s\"]*", re.IGNORECASE)


class RedactWebhookSecret(logging.Filter):
    """Replace the secret in ``/webhook/<secret>`` with ``***`` in any log record, and mask a
    card number in what it shows (a query string, ``?card=4111…``, is logged as sent)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str) and "/webhook" in record.msg.lower():
            record.msg = _SECRET_IN_PATH.sub(r"\1***", record.msg)
        return True


def _redacted(text: str) -> str:
    text = _SECRET_IN_PATH.sub(r"\1***", text)
    if len(text) >= 13:
        masked, count = mask_pans(text.encode("utf-8", "surrogateescape"))
        if count:
            return masked.decode("utf-8", "surrogateescape")
    return text


def install_log_redaction() -> None:
    """Attach the redaction to uvicorn's loggers (idempotent)."""
    for name in ("uvicorn.access", "uvicorn.error", "uvicorn"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactWebhookSecret) for f in logger.filters):
            logger.addFilter(RedactWebhookSecret())
