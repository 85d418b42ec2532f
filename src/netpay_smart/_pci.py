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


def _masked(run: bytes) -> bytes:
    return b"*" * (len(run) - 4) + run[-4:]


def _in_string(body: bytes, position: int, state: list[int]) -> bool:
    """Whether ``position`` is inside a JSON string. ``state`` carries the scan forward
    ([scanned up to, inside a string]) so the whole body is read once whatever the matches."""
    index, inside = state
    while index < position:
        char = body[index]
        if inside and char == 0x5C:  # backslash: skip the escaped character
            index += 2
            continue
        if char == 0x22:  # quote
            inside = 1 - inside
        index += 1
    state[0], state[1] = index, inside
    return bool(inside)


def mask_pans(body: bytes) -> tuple[bytes, int]:
    """Mask every Luhn-valid 13–19 digit run outside ``hexSign``; returns (body, count).

    A run inside a JSON string keeps its last four digits: ``"************1111"``. A run that
    is a JSON *number* becomes that string, quotes included, so the body stays valid JSON.
    (A millisecond timestamp that happens to pass the Luhn check is masked too: card numbers
    must never be stored, so when in doubt, mask.)
    """
    if not _DIGIT_RUN.search(body):
        return body, 0
    protected = [m.span() for m in _HEX_SIGN.finditer(body)]
    json_like = body.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] in (b"{", b"[")
    out: list[bytes] = []
    count = 0
    cursor = 0
    state = [0, 0]
    for match in _DIGIT_RUN.finditer(body):
        start, end = match.span()
        run = match.group(0)
        if any(a <= start and end <= b for a, b in protected) or not luhn_valid(run):
            continue
        out.append(body[cursor:start])
        quote = json_like and not _in_string(body, start, state)
        out.append(b'"' + _masked(run) + b'"' if quote else _masked(run))
        cursor = end
        count += 1
    if not count:
        return body, 0
    out.append(body[cursor:])
    return b"".join(out), count
