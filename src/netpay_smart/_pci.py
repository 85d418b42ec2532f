"""Keep card numbers out of everything we store or log.

Smart terminals send only the last four digits and the BIN, but a misconfigured POS can put a
full card number into ``traceability`` or ``folioNumber``. Any run of 13 to 19 digits that passes
the Luhn check is masked down to its last four before a body is written anywhere, and so is
a number written the way cards are printed, in groups (``4111 1111 1111 1111``,
``3782-822463-10005``, ``5555.5555.5555.4444``) with one or two separators between them:
space, tab, dash, dot, slash or no-break space, mixed, or the JSON escapes ``\\t``, ``\\/``
and ``\\u00a0``. Digits printed after a card (its expiry, a CVV) do not hide it: every span
of whole groups shaped like a card is checked. A ``hexSign`` (the signature image) made of
hexadecimal digits with at least one letter is left alone: its digit runs are pixels, not
cards. Any other ``hexSign`` is scanned like the rest of the body.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

__all__ = ["cut_for_record", "luhn_valid", "mask_pans"]

_DIGITS: Final = b"0123456789"
_HEX_DIGITS: Final = b"0123456789abcdefABCDEF"
_HEX_SIGN: Final = re.compile(rb'"hexSign"\s*:\s*"([^"]*)"')
# Digits become b"1", the bytes a separator between printed groups is made of b"-" (backslash
# and "t" too, for the escapes "\t" and "\/"), anything else b"0". That one C-speed
# translate() serves both kinds of card number: find() of thirteen b"1" tells whether a long
# run exists, find() of b"1111-" where a printed number may start, before any regex runs.
_FLAGS: Final = bytes(
    0x31 if 0x30 <= byte <= 0x39 else 0x2D if byte in b" \t-./\\t\xa0\xc2" else 0x30
    for byte in range(256)
)
_THIRTEEN: Final = b"1" * 13
_NOT_DIGIT_FLAG: Final = re.compile(rb"[^1]")
# What may stand between two printed groups, one or two of them, mixed: space, tab, dash, dot,
# slash, no-break space (Latin-1 or UTF-8), and the JSON escapes \t and \/.
_SEPARATOR: Final = rb"(?:[ \t\-./\xa0]|\xc2\xa0|\\[t/])"
# Groups of digits after a group of four, each of at most six digits (a longer one ends the
# run). Which spans of these groups are shaped like a card is decided by _card_ends().
_PRINTED: Final = re.compile(
    rb"(?<![0-9])[0-9]{4}(?:" + _SEPARATOR + rb"{1,2}[0-9]{1,6}(?![0-9]))+"
)
_GROUP: Final = re.compile(rb"[0-9]+")
# The separators of _SEPARATOR, longest first, for cut_for_record() to read a body backwards;
# _CUT_SHORT, what the cut may leave of one at the very end ("\u00a0" cut after "\u00a").
_CUT_SEPARATORS: Final = (
    b"\\u00a0",
    b"\\u00A0",
    b"\xc2\xa0",
    b"\\t",
    b"\\/",
    b" ",
    b"\t",
    b"-",
    b".",
    b"/",
    b"\xa0",
)
_CUT_SHORT: Final = (b"\\u00a", b"\\u00A", b"\\u", b"\\", b"\xc2")
# Group sizes of printed card numbers, longest of each shape (see _card_ends).
_CARD_SHAPES: Final = ((4, 4, 4, 4, 3), (4, 6, 5))
# A digit or a no-break space written as a JSON escape ("\u0034" is "4"), not preceded by a
# backslash of its own.
_ESCAPE: Final = re.compile(rb"(?<!\\)((?:\\\\)*)\\u00(3[0-9]|[aA]0)")
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


def cut_for_record(data: bytes) -> bytes:
    """``data``, a body cut at the size limit, without the start of a card number the cut may
    have split: its trailing digits go, and so do the groups before them when, with those
    digits, they can begin a printed card (``b'...x 5555 5555 5555 4'`` keeps ``b'...x '``,
    ``b'2024-03-05 1'`` keeps ``b'2024-03-05 '``). A card is at most five groups, so only the
    last few bytes are looked at."""
    kept = data.rstrip(_DIGITS)
    cut_digits = len(data) - len(kept)  # of the group the cut fell in
    if cut_digits and kept.endswith((b"\\u00a", b"\\u00A")):
        cut_digits -= 1  # the last digit of an escaped no-break space
    groups: list[tuple[int, int]] = []  # (start, digits), nearest first
    end = len(kept)
    while len(groups) < 4:
        separators = 0
        while separators < 2:
            token = next((t for t in _CUT_SEPARATORS if kept.endswith(t, 0, end)), None)
            if token is None and end == len(kept):
                token = next((t for t in _CUT_SHORT if kept.endswith(t, 0, end)), None)
            if token is None:
                break
            end -= len(token)
            separators += 1
        start = end
        while start and 0x30 <= kept[start - 1] <= 0x39:
            if kept.endswith((b"\\u00a0", b"\\u00A0"), 0, start):
                break  # the digits of an escaped no-break space
            start -= 1
        if not separators or start == end or end - start > 6:
            break
        groups.append((start, end - start))
        end = start
    cut = len(kept)
    for count in range(1, len(groups) + 1):
        sizes = tuple(size for _, size in reversed(groups[:count]))
        if any(
            count < len(shape) and shape[:count] == sizes and cut_digits <= shape[count]
            for shape in _CARD_SHAPES
        ):
            cut = groups[count - 1][0]
    return kept[:cut]


def _masked(run: bytes) -> bytes:
    return b"*" * (len(run) - 4) + run[-4:]


def _card_ends(sizes: list[int], first: int) -> Iterator[int]:
    """Where each span of groups that starts at ``first`` and is shaped like a printed card
    ends: 4-4-4-(1..4), 4-4-4-4-(1..3) for 17 to 19 digits, or 4-6-(4..5) (Diners, American
    Express). Dates (2024-03-05), times and phone numbers have no such span."""
    shape = sizes[first : first + 5]
    if len(shape) < 3 or shape[0] != 4:
        return
    if shape[1] == 6:
        if shape[2] in (4, 5):
            yield first + 3
    elif shape[1] == 4 and shape[2] == 4 and len(shape) > 3 and 1 <= shape[3] <= 4:
        yield first + 4
        if shape[3] == 4 and len(shape) > 4 and shape[4] <= 3:
            yield first + 5


def _mask_printed(text: bytes) -> tuple[bytes, int]:
    """``text`` (groups of digits and separators) with every card-shaped span of its groups
    that passes the Luhn check starred but for its last four digits, separators kept; returns
    (text, how many cards). Each span is checked, not only the longest, so digits printed after
    a card (an expiry, a CVV) or before it hide nothing; overlapping spans count as one card."""
    groups = [match.span() for match in _GROUP.finditer(text)]
    sizes = [end - start for start, end in groups]
    out = bytearray(text)
    count = 0
    counted_to = 0  # the group after the last card counted
    for first in range(len(groups) - 2):
        for last in _card_ends(sizes, first):
            digits = b"".join(text[start:end] for start, end in groups[first:last])
            if not luhn_valid(digits):
                continue
            if first >= counted_to:
                count += 1
                counted_to = last
            hide = len(digits) - 4
            for start, end in groups[first:last]:
                stars = min(hide, end - start)
                out[start : start + stars] = b"*" * stars
                hide -= stars
                if not hide:
                    break
    return bytes(out), count


def _mask_printed_outside(
    body: bytes, flags: bytes, sign_start: int, sign_end: int
) -> tuple[bytes, int]:
    """Mask printed card numbers outside the signature; returns (body, how many). Stars take
    the place of digits, so every offset in ``body`` stays where it was."""
    pieces: list[bytes] = []
    cursor = 0
    count = 0
    at = flags.find(b"1111-")
    while at >= 0:
        if sign_start <= at < sign_end:
            at = flags.find(b"1111-", sign_end)
            continue
        # Four digits after a non-digit, then one or two separators (four flag bytes at most)
        # and a group of four or six digits, as every card shape begins: "2024-03-05" and
        # "210304142730-1490293930" go no further. (A card may begin at a later group: it is
        # found from there.)
        after = flags[at + 4 : at + 15].lstrip(b"-")
        if (at == 0 or flags[at - 1] != 0x31) and len(after) - len(after.lstrip(b"1")) in (4, 6):
            match = _PRINTED.match(body, at)
            if match:
                masked, found = _mask_printed(match.group())
                if found:
                    pieces.append(body[cursor:at])
                    pieces.append(masked)
                    cursor = match.end()
                    count += found
                at = flags.find(b"1111-", match.end())
                continue
        at = flags.find(b"1111-", at + 1)
    if not count:
        return body, 0
    pieces.append(body[cursor:])
    return b"".join(pieces), count


def _mask_all(text: bytes) -> bytes:
    """Every Luhn-valid 13–19 digit run of a short text masked."""
    flags = text.translate(_FLAGS)
    out: list[bytes] = []
    cursor = 0
    for start, end in _long_runs(flags, 0, len(text)):
        if end - start <= 19 and luhn_valid(text[start:end]):
            out.append(text[cursor:start])
            out.append(_masked(text[start:end]))
            cursor = end
    out.append(text[cursor:])
    return b"".join(out)


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
        after = _NOT_DIGIT_FLAG.search(flags, found + 13, end)
        stop = after.start() if after else end
        yield found, stop
        found = flags.find(_THIRTEEN, stop, end)


def _hex_sign(body: bytes) -> tuple[int, int]:
    """Where the ``hexSign`` value lies, as (start, end), when it is a signature: hexadecimal
    digits only, a letter among them. (0, 0) otherwise, so that a card number put there (plain,
    printed, or among other text) is masked like anywhere else."""
    match = _HEX_SIGN.search(body, max(body.find(b'"hexSign"'), 0))
    if match is None:
        return 0, 0
    value = match.group(1)
    # translate() and strip() run at C speed, so a long signature costs about a microsecond.
    if value.translate(None, _HEX_DIGITS) or not value.strip(_DIGITS):
        return 0, 0
    return match.span()


def _unescaped(match: re.Match[bytes]) -> bytes:
    """The escape matched by _ESCAPE written plainly: its digit, or a no-break space (UTF-8)."""
    code = match.group(2)
    return match.group(1) + (code[1:] if code[0] == 0x33 else b"\xc2\xa0")


def _digit_count(text: bytes) -> int:
    return len(text) - len(text.translate(None, _DIGITS))


def mask_pans(body: bytes) -> tuple[bytes, int]:
    """Mask every Luhn-valid 13–19 digit card number outside a signature ``hexSign`` (see
    :func:`_mask_pans`), digits and no-break spaces written as JSON escapes
    (``"4111\\u00311111…"``, ``"4111\\u00a01111…"``) too: such a body is kept with those escapes
    written plainly, the same JSON, when they hide (part of) a card number, and as it came,
    masked, otherwise."""
    masked, count = _mask_pans(body)
    # One search on every body; the escapes themselves are rare.
    if b"\\u00" in body and (b"\\u003" in body or b"\\u00a0" in body or b"\\u00A0" in body):
        plain = _ESCAPE.sub(_unescaped, body)
        if plain != body:
            plain_masked, plain_count = _mask_pans(plain)
            # Read plainly, the body masked as it came must hold no card and show no more
            # digits than the plain one masked (masking may have cut into an escape, or into a
            # longer card the escapes hid).
            shown = _ESCAPE.sub(_unescaped, masked)
            if plain_count and (
                _mask_pans(shown)[1] or _digit_count(shown) > _digit_count(plain_masked)
            ):
                return plain_masked, plain_count
    return masked, count


def _mask_pans(body: bytes) -> tuple[bytes, int]:
    """Mask every Luhn-valid 13–19 digit card number outside a signature ``hexSign``, in one
    run or in printed groups; returns (body, count).

    A run inside a JSON string keeps its last four digits: ``"************1111"``. A run that
    is a JSON *number* becomes that string, quotes included, so the body stays valid JSON.
    (A millisecond timestamp that happens to pass the Luhn check is masked too: card numbers
    must never be stored, so when in doubt, mask.)

    This runs on every webhook request, so the signature (most of a body's bytes, and digits
    that are pixels, not cards) is skipped rather than scanned.
    """
    sign_start, sign_end = _hex_sign(body) if b'"hexSign"' in body else (0, 0)
    flags = body.translate(_FLAGS)
    # Printed numbers only turn digits into stars and runs of 13 digits never share a digit
    # with one (its groups have six digits at most), so these flags still serve below.
    body, printed = _mask_printed_outside(body, flags, sign_start, sign_end)
    runs = [
        (start, end)
        for segment in ((0, sign_start), (sign_end, len(body)))
        for start, end in _long_runs(flags, *segment)
        if end - start <= 19 and luhn_valid(body[start:end])
    ]
    if not runs:
        return body, printed
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
    return b"".join(out), count + printed
