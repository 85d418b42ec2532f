"""Keep card numbers out of everything we store or log.

Smart terminals send only the last four digits and the BIN, but a misconfigured POS can put a
full card number into ``traceability`` or ``folioNumber``. Any run of 13 to 19 digits that passes
the Luhn check is masked down to its last four before a body is written anywhere. ``hexSign``
(the signature image, hexadecimal) is left alone: its digit runs are pixels, not cards.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["luhn_valid", "mask_pans"]

_DIGIT_RUN: Final = re.compile(rb"(?<![0-9])[0-9]{13,19}(?![0-9])")
_HEX_SIGN: Final = re.compile(rb'"hexSign"\s*:\s*"[^"]*"')


def luhn_valid(digits: bytes | str) -> bool:
    """The Luhn checksum every payment card number satisfies."""
    if isinstance(digits, str):
        digits = digits.encode()
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = char - 48
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _mask(match: re.Match[bytes]) -> bytes:
    run = match.group(0)
    return b"*" * (len(run) - 4) + run[-4:] if luhn_valid(run) else run


def mask_pans(body: bytes) -> tuple[bytes, int]:
    """Mask every Luhn-valid 13–19 digit run outside ``hexSign``; returns (body, count)."""
    if not _DIGIT_RUN.search(body):
        return body, 0
    protected = [m.span() for m in _HEX_SIGN.finditer(body)]
    out: list[bytes] = []
    count = 0
    cursor = 0
    for match in _DIGIT_RUN.finditer(body):
        start, end = match.span()
        if any(a <= start and end <= b for a, b in protected):
            continue
        masked = _mask(match)
        if masked != match.group(0):
            out.append(body[cursor:start])
            out.append(masked)
            cursor = end
            count += 1
    if not count:
        return body, 0
    out.append(body[cursor:])
    return b"".join(out), count
