"""Keep card numbers out of everything we store or log.

Smart terminals send only the last four digits and the BIN, but a misconfigured POS can put a
full card number into ``traceability`` or ``folioNumber``. Any run of 13 to 19 digits that passes
the Luhn check is masked down to its last four before a body is written anywhere, and so is
a number written the way cards are printed, in groups with spaces or dashes
(``4111 1111 1111 1111``, ``3782-822463-10005``). ``hexSign`` (the signature image,
hexadecimal) is left alone: its digit runs are pixels, not cards.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

__all__ = ["luhn_valid", "mask_pans"]

_HEX_SIGN: Final = re.compile(rb'"hexSign"\s*:\s*"[^"]*"')
# Digits become b"1", everything else b"0": a C-speed find() of thirteen b"1" then tells
# whether any run long enough to be a card number exists, before the (slower) regex runs.
_DIGIT_FLAGS: Final = bytes(0x31 if 0x30 <= byte <= 0x39 else 0x30 for byte in range(256))
_THIRTEEN: Final = b"1" * 13
_CARD_LIKE: Final = re.compile(rb"(?<![0-9])[0-9]{13,19}(?![0-9])")
# Digits b"1", a space or a dash b"-", anything else b"0": a card number as printed holds
# b"1111-1111", which find() spots at C speed; _printed_card() then checks the shape around it
# before the (much slower) regex below runs.
_GROUP_FLAGS: Final = bytes(
    0x31 if 0x30 <= byte <= 0x39 else 0x2D if byte in (0x20, 0x2D) else 0x30 for byte in range(256)
)
# A card number as printed, one kind of separator: 4-4-4-(1..4), then 1..3 more for 17 to 19
# digits (4-4-4-4-3), or 4-6-(4..5) (Diners, American Express).
_GROUPED: Final = re.compile(
    rb"(?<![0-9])[0-9]{4}(?P<s>[ -])[0-9]{4}(?P=s)[0-9]{4}(?P=s)[0-9]{1,4}"
    rb"(?:(?P=s)[0-9]{1,3})?(?![0-9])"
    rb"|(?<![0-9])[0-9]{4}(?P<t>[ -])[0-9]{6}(?P=t)[0-9]{4,5}(?![0-9])"
)
# A digit written as a JSON escape ("\u0034" is "4"), not preceded by a backslash of its own.
_DIGIT_ESCAPE: Final = re.compile(rb"(?<!\\)((?:\\\\)*)\\u003([0-9])")
# The bytes a JSON number is made of.
_NUMBER_BYTES: Final = frozenset(bytes([b]) for b in b"0123456789.-+eE")


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


def _printed_card(shapes: bytes) -> bool:
    """Whether ``shapes`` (b"0" then the body through _GROUP_FLAGS) holds four digits after a
    non-digit, a separator, then four digits and a separator or six ("4111 1111 ",
    "3782-822463-"). An orderId like "210304142730-1490293930" does not."""
    at = shapes.find(b"1111-1111")
    while at >= 0:
        if shapes[at - 1] != 0x31 and (
            shapes[at + 9 : at + 10] == b"-" or shapes[at + 9 : at + 12] == b"11-"
        ):
            return True
        at = shapes.find(b"1111-1111", at + 1)
    return False


def _mask_grouped(match: re.Match[bytes]) -> bytes:
    """A grouped card number with every digit but the last four starred, separators kept."""
    text = match.group(0)
    digits = bytes(b for b in text if 0x30 <= b <= 0x39)
    if not 13 <= len(digits) <= 19 or not luhn_valid(digits):
        return text
    keep = len(digits) - 4
    out = bytearray()
    for byte in text:
        if 0x30 <= byte <= 0x39:
            out.append(0x2A if keep > 0 else byte)
            keep -= 1
        else:
            out.append(byte)
    return bytes(out)


def _mask_grouped_outside(body: bytes, sign_start: int, sign_end: int) -> tuple[bytes, int]:
    """Mask grouped card numbers outside the signature; returns (body, how many)."""
    count = 0

    def mask(match: re.Match[bytes]) -> bytes:
        nonlocal count
        masked = _mask_grouped(match)
        count += masked != match.group(0)
        return masked

    if sign_end:
        body = (
            _GROUPED.sub(mask, body[:sign_start])
            + body[sign_start:sign_end]
            + _GROUPED.sub(mask, body[sign_end:])
        )
    else:
        body = _GROUPED.sub(mask, body)
    return body, count


def _mask_all(text: bytes) -> bytes:
    """Every Luhn-valid 13–19 digit run of a short text masked."""
    return _CARD_LIKE.sub(
        lambda m: _masked(m.group(0)) if luhn_valid(m.group(0)) else m.group(0), text
    )


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


def _long_runs(flags: bytes, start: int, end: int) -> Iterator[tuple[int, int]]:
    """(start, end) of every run of 13 or more digits in ``flags[start:end]``."""
    found = flags.find(_THIRTEEN, start, end)
    while found >= 0:
        stop = flags.find(b"0", found + 13, end)
        stop = end if stop < 0 else stop
        yield found, stop
        found = flags.find(_THIRTEEN, stop, end)


def _hex_sign(body: bytes) -> tuple[int, int]:
    """Where the ``hexSign`` value lies, as (start, end); (0, 0) when there is none."""
    match = _HEX_SIGN.search(body, max(body.find(b'"hexSign"'), 0))
    return match.span() if match else (0, 0)


def mask_pans(body: bytes) -> tuple[bytes, int]:
    """Mask every Luhn-valid 13–19 digit card number outside ``hexSign`` (see
    :func:`_mask_pans`), digits written as JSON escapes (``"4111\\u00311111…"``) too: such a
    body is kept with those digits written plainly, the same JSON, when that reveals a card
    number, and as it came otherwise."""
    if b"\\u003" in body:
        plain = _DIGIT_ESCAPE.sub(rb"\1\2", body)
        if plain != body:
            masked, count = _mask_pans(plain)
            if count:
                return masked, count
    return _mask_pans(body)


def _mask_pans(body: bytes) -> tuple[bytes, int]:
    """Mask every Luhn-valid 13–19 digit card number outside ``hexSign``, in one run or in
    printed groups; returns (body, count).

    A run inside a JSON string keeps its last four digits: ``"************1111"``. A run that
    is a JSON *number* becomes that string, quotes included, so the body stays valid JSON.
    (A millisecond timestamp that happens to pass the Luhn check is masked too: card numbers
    must never be stored, so when in doubt, mask.)

    This runs on every webhook request, so the signature (most of a body's bytes, and digits
    that are pixels, not cards) is skipped rather than scanned.
    """
    sign_start, sign_end = _hex_sign(body) if b'"hexSign"' in body else (0, 0)
    grouped = 0
    if _printed_card(b"0" + body.translate(_GROUP_FLAGS)):
        # Grouped numbers only change digits to stars, so every offset stays where it was.
        body, grouped = _mask_grouped_outside(body, sign_start, sign_end)
    flags = body.translate(_DIGIT_FLAGS)
    runs = [
        (start, end)
        for segment in ((0, sign_start), (sign_end, len(body)))
        for start, end in _long_runs(flags, *segment)
        if end - start <= 19 and luhn_valid(body[start:end])
    ]
    if not runs:
        return body, grouped
    json_like = body.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] in (b"{", b"[")
    out: list[bytes] = []
    cursor = 0
    count = 0
    state = [0, 0]
    for start, end in runs:
        if start < cursor:
            continue  # inside a number already rewritten
        if json_like and not _in_string(body, start, state):
            # A JSON number (-4111..., 0.0138..., 1e41...): the whole number becomes a string
            # with the run masked, so the body stays valid JSON and keeps no card digits.
            first, last = start, end
            while first > cursor and body[first - 1 : first] in _NUMBER_BYTES:
                first -= 1
            while last < len(body) and body[last : last + 1] in _NUMBER_BYTES:
                last += 1
            out.append(body[cursor:first])
            out.append(b'"' + _mask_all(body[first:last]) + b'"')
            cursor = last
        else:
            out.append(body[cursor:start])
            out.append(_masked(body[start:end]))
            cursor = end
        count += 1
    out.append(body[cursor:])
    return b"".join(out), count + grouped
