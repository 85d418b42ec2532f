"""Operations: metrics in Prometheus' text format, and the access-log redaction."""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from collections.abc import Iterable

from ..store import Applied

__all__ = ["Metrics", "RedactWebhookSecret", "install_log_redaction"]

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
_SECRET_IN_PATH = re.compile(r"(/webhook/)[^?\s\"]*")


class RedactWebhookSecret(logging.Filter):
    """Replace the secret in ``/webhook/<secret>`` with ``***`` in any log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _SECRET_IN_PATH.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args
            )
        if isinstance(record.msg, str) and "/webhook/" in record.msg:
            record.msg = _SECRET_IN_PATH.sub(r"\1***", record.msg)
        return True


def install_log_redaction() -> None:
    """Attach the redaction to uvicorn's loggers (idempotent)."""
    for name in ("uvicorn.access", "uvicorn.error", "uvicorn"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactWebhookSecret) for f in logger.filters):
            logger.addFilter(RedactWebhookSecret())
