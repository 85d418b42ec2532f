"""Keep card numbers out of everything we store or log.

Smart terminals send only the last four digits and the BIN, but a misconfigured POS can put a
full card number into ``traceability`` or ``folioNumber``. Any run of 13 to 19 digits that passes
the Luhn check is masked down to its last four before a body is written anywhere, and so is:

- a number written the way cards are printed, in groups (``4111 1111 1111 1111``,
  ``3782-822463-10005``, ``5555.5555.5555.4444``, ``4111 - 1111 - 1111 - 1111``) with one to
  five separators between them: space, tab, dash, dot, slash or no-break space, mixed, or the
  JSON escapes ``\\t``, ``\\/`` and ``\\u00a0``. Digits printed after a card (its expiry, a
  CVV) do not hide it: every span of whole groups shaped like a card is checked;
- a JSON number in exponent form, the way a double is printed (``4.111111111111111E15``,
  ``4.222222222222e+12``), when its mantissa ends in twelve digits or more and the whole number
  it stands for has 13 to 16 digits and passes the Luhn check. (A double prints such a card
  with 12 to 15 digits after the point, fewer by its trailing zeros. It keeps every integer up
  to 2**53 exactly, but a 17 to 19 digit card printed as one has lost its last digits, so the
  check would be chance.) Amounts (``1.5E2``) have too few digits to be looked at;
- digits of any script (Arabic-Indic ``٤١١١…``, fullwidth ``４１１１…``: every Unicode decimal
  digit) in a UTF-8 body, in one run or printed (fullwidth separators too);
- any of these in a UTF-16 or UTF-32 body, told by its byte-order mark or, without one, by the
  NULs among its first bytes (RFC 4627, section 3).

A ``hexSign`` (the signature image) made of hexadecimal digits with at least one letter is left
alone: its digit runs are pixels, not cards. Any other ``hexSign`` is scanned like the rest of
the body. Not recognised: non-ASCII digits written as JSON escapes (``\\uff14``), and a body cut
at the size limit inside a card written in non-ASCII digits or in UTF-16 may keep its start.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterator
from typing import Final

__all__ = ["cut_for_record", "luhn_valid", "mask_pans"]

_DIGITS: Final = b"0123456789"
_HEX_DIGITS: Final = b"0123456789abcdefABCDEF"
_HEX_SIGN: Final = re.compile(rb'"hexSign"\s*:\s*"')
# The bytes that send a body down the slow path of mask_pans(): NUL and the bytes of a UTF-16 or
# UTF-32 byte-order mark, and the first byte of every non-ASCII decimal digit in UTF-8 (none of
# them starts the accented letters of Spanish in UTF-8; test_pci_more tries every script).
_RARE_BYTES: Final = b"\x00\xfe\xff\xd9\xdb\xdf\xe0\xe1\xea\xef\xf0"


def _flag(byte: int) -> int:
    """What ``byte`` becomes in _FLAGS."""
    if 0x30 <= byte <= 0x39:
        return 0x31  # b"1"
    if byte in b" \t-./\\t\xa0\xc2":
        return 0x2D  # b"-"
    return 0x75 if byte in _RARE_BYTES else 0x30  # b"u", b"0"


# Digits become b"1", the bytes a separator between printed groups is made of b"-" (backslash
# and "t" too, for the escapes "\t" and "\/"), _RARE_BYTES b"u", anything else b"0". That
# one C-speed translate() serves every kind of card number: find() of twelve b"1" tells whether
# a long run exists, find() of b"1111-" where a printed number may start, and b"u" whether the
# body needs the slow path at all, before any regex runs.
_FLAGS: Final = bytes(_flag(byte) for byte in range(256))
_RARE: Final = b"u"
# Runs this long are looked at: 13 digits can be a card, and 12 before an exponent can be the
# mantissa of one (4.222222222222E12).
_TWELVE: Final = b"1" * 12
_NOT_DIGIT_FLAG: Final = re.compile(rb"[^1]")
# What may stand between two printed groups, one to five of them, mixed: space, tab, dash, dot,
# slash, no-break space (Latin-1 or UTF-8), and the JSON escapes \t and \/. Five allow a dash
# padded with two spaces on each side ("4111  -  1111"); more would join numbers that only
# stand in the same table or list.
_SEPARATOR: Final = rb"(?:[ \t\-./\xa0]|\xc2\xa0|\\[t/])"
_MAX_SEPARATORS: Final = 5
# Groups of digits after a group of four, each of at most six digits (a longer one ends the
# run). Which spans of these groups are shaped like a card is decided by _card_ends().
_PRINTED: Final = re.compile(
    rb"(?<![0-9])[0-9]{4}(?:" + _SEPARATOR + rb"{1,%d}[0-9]{1,6}(?![0-9]))+" % _MAX_SEPARATORS
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
# A number in exponent form: whole part, fraction, exponent (three digits at most: a card's is
# 12 to 15, and int() of a long one would be slow).
_EXPONENT_NUMBER: Final = re.compile(
    rb"(?<![0-9.])([0-9]+)(?:\.([0-9]+))?[eE]\+?([0-9]{1,3})(?![0-9])"
)
_EXPONENT_MARKS: Final = (b"e", b"E")
# Byte-order marks of the wide encodings, longest first (UTF-32LE's begins like UTF-16LE's).
_WIDE_MARKS: Final = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
_STARS: Final = re.compile(r"\*+")
_ASCII: Final = bytes(range(0x80))
_NON_ASCII: Final = re.compile(r"[^\x00-\x7f]+")
# Separators as a fullwidth keyboard types them, read as their ASCII selves.
_FULLWIDTH_SEPARATORS: Final = {0x3000: 0x20, 0xFF0D: 0x2D, 0xFF0E: 0x2E, 0xFF0F: 0x2F}


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
    ``b'2024-03-05 1'`` keeps ``b'2024-03-05 '``), and so does the mantissa of a number cut in
    its exponent (``b'...x 4.111111111111111E1'`` keeps ``b'...x '``). A card is at most five
    groups, so only the last few bytes are looked at."""
    kept = data.rstrip(_DIGITS)
    # The cut may have left no digit of the exponent or all of it: either way the mantissa
    # before it holds the card's digits, and without the exponent nothing says it is one.
    mark = kept.removesuffix(b"+")
    if mark[-1:] in _EXPONENT_MARKS and mark[-2:-1].isdigit():
        kept = mark[:-1].rstrip(_DIGITS)
        if kept.endswith(b".") and kept[-2:-1].isdigit():
            kept = kept[:-1].rstrip(_DIGITS)
    cut_digits = len(data) - len(kept)  # of the group the cut fell in
    if cut_digits and kept.endswith((b"\\u00a", b"\\u00A")):
        cut_digits -= 1  # the last digit of an escaped no-break space
    groups: list[tuple[int, int]] = []  # (start, digits), nearest first
    end = len(kept)
    while len(groups) < 4:
        separators = 0
        while separators < _MAX_SEPARATORS:
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
    # The signature is skipped, not searched: it is most of the body, and digits.
    for segment_start, segment_end in ((0, sign_start), (sign_end, len(body))):
        at = flags.find(b"1111-", segment_start, segment_end)
        while at >= 0:
            # Four digits after a non-digit, then one to five separators (ten flag bytes at
            # most) and a group of four or six digits, as every card shape begins: "2024-03-05"
            # and "210304142730-1490293930" go no further. (A card may begin at a later group:
            # it is found from there.)
            after = flags[at + 4 : at + 21].lstrip(b"-")
            second = len(after) - len(after.lstrip(b"1"))  # digits in the second group
            if (at == 0 or flags[at - 1] != 0x31) and second in (4, 6):
                match = _PRINTED.match(body, at)
                if match:
                    masked, found = _mask_printed(match.group())
                    if found:
                        pieces.append(body[cursor:at])
                        pieces.append(masked)
                        cursor = match.end()
                        count += found
                    at = flags.find(b"1111-", match.end(), segment_end)
                    continue
            at = flags.find(b"1111-", at + 1, segment_end)
    if not count:
        return body, 0
    pieces.append(body[cursor:])
    return b"".join(pieces), count


def _exponent_card(match: re.Match[bytes]) -> bytes | None:
    """The number in exponent form ``match`` (of _EXPONENT_NUMBER) written with the digits of
    its mantissa starred but for those among the last four of the whole number it stands for,
    when that is a card number (13 to 16 digits, Luhn-valid); None otherwise."""
    whole, fraction, exponent = match.group(1, 2, 3)
    fraction = fraction or b""
    mantissa = whole + fraction
    shift = int(exponent) - len(fraction)  # the power of ten of the mantissa's last digit
    number = mantissa.lstrip(b"0")
    if shift >= 0:
        number += b"0" * shift
    elif number.endswith(b"0" * -shift):
        number = number[:shift]  # 4.1111111111111110E15: the zeros after the point
    else:
        return None  # not a whole number
    if not 13 <= len(number) <= 16 or not luhn_valid(number):
        return None
    hide = len(mantissa) - min(max(4 - shift, 0), len(mantissa))
    in_whole = min(hide, len(whole))
    masked = b"*" * in_whole + whole[in_whole:]
    if match.group(2) is not None:
        masked += b"." + b"*" * (hide - in_whole) + fraction[hide - in_whole :]
    return masked + match.group()[len(masked) :]


def _exponent_span(body: bytes, start: int) -> tuple[int, int] | None:
    """(start, end) of the number in exponent form whose mantissa ends with the run of digits
    at ``start`` (followed by "e" or "E"), when it stands for a card number; None otherwise."""
    first = start
    if body[first - 1 : first] == b".":
        first -= 1
        while first and 0x30 <= body[first - 1] <= 0x39:
            first -= 1
    match = _EXPONENT_NUMBER.match(body, first)
    if match is None or _exponent_card(match) is None:
        return None
    return match.span()


def _mask_number(text: bytes) -> bytes:
    """A number (``text``) with the digits of any card it holds starred: a number in exponent
    form that stands for one, and any Luhn-valid 13–19 digit run."""
    text = _EXPONENT_NUMBER.sub(lambda match: _exponent_card(match) or match.group(), text)
    flags = text.translate(_FLAGS)
    out: list[bytes] = []
    cursor = 0
    for start, end in _long_runs(flags, 0, len(text)):
        if 13 <= end - start <= 19 and luhn_valid(text[start:end]):
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
    """(start, end) of every run of 12 or more digits in ``flags[start:end]``."""
    found = flags.find(_TWELVE, start, end)
    while found >= 0:
        after = _NOT_DIGIT_FLAG.search(flags, found + 12, end)
        stop = after.start() if after else end
        yield found, stop
        found = flags.find(_TWELVE, stop, end)


def _hex_sign(body: bytes) -> tuple[int, int]:
    """Where the ``hexSign`` value lies, as (start, end), when it is a signature: hexadecimal
    digits only, a letter among them. (0, 0) otherwise, so that a card number put there (plain,
    printed, or among other text) is masked like anywhere else."""
    match = _HEX_SIGN.search(body, max(body.find(b'"hexSign"'), 0))
    if match is None:
        return 0, 0
    # The value ends at the next quote: find() reads the signature at C speed, as do
    # translate() and strip(), so a long one costs about a microsecond.
    end = body.find(b'"', match.end())
    if end < 0:
        return 0, 0
    value = body[match.end() : end]
    if value.translate(None, _HEX_DIGITS) or not value.strip(_DIGITS):
        return 0, 0
    return match.start(), end + 1


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
    masked, otherwise. Cards in non-ASCII digits are masked too
    (:func:`_mask_digits_of_any_script`), and a UTF-16 or UTF-32 body is masked as the text it
    is (:func:`_mask_wide`)."""
    flags = body.translate(_FLAGS)
    masked, count = _mask_escaped(body, flags)
    # One C search on every body; the bytes it looks for are rare in a terminal's JSON.
    if _RARE in flags:
        encoding = _wide_encoding(body)
        found = 0
        if encoding is not None:
            masked, found = _mask_wide(masked, *encoding)
        if not found and _has_non_ascii_digit(body, flags):
            masked, found = _mask_digits_of_any_script(masked)
        count += found
    return masked, count


def _mask_escaped(body: bytes, flags: bytes) -> tuple[bytes, int]:
    """:func:`_mask_pans`, and the same again with JSON escapes of digits written plainly."""
    masked, count = _mask_pans(body, flags)
    # One search on every body; the escapes themselves are rare.
    if b"\\u00" in body and (b"\\u003" in body or b"\\u00a0" in body or b"\\u00A0" in body):
        plain = _ESCAPE.sub(_unescaped, body)
        if plain != body:
            plain_masked, plain_count = _mask_pans(plain, plain.translate(_FLAGS))
            # Read plainly, the body masked as it came must hold no card and show no more
            # digits than the plain one masked (masking may have cut into an escape, or into a
            # longer card the escapes hid).
            shown = _ESCAPE.sub(_unescaped, masked)
            if plain_count and (
                _mask_pans(shown, shown.translate(_FLAGS))[1]
                or _digit_count(shown) > _digit_count(plain_masked)
            ):
                return plain_masked, plain_count
    return masked, count


def _mask_wide(body: bytes, mark: int, codec: str) -> tuple[bytes, int]:
    """A UTF-16 or UTF-32 ``body`` (``codec``, after a byte-order mark of ``mark`` bytes) read
    as the text it is, masked like a UTF-8 one and written back in its encoding, mark kept;
    returns (body, how many cards), the body as it came when there is none."""
    unit = 4 if codec.startswith("utf-32") else 2
    end = len(body) - (len(body) - mark) % unit  # a cut may leave half a character
    try:
        text = body[mark:end].decode(codec, "surrogatepass")
    except UnicodeDecodeError:
        return body, 0  # not that encoding after all (UTF-32 past U+10FFFF)
    plain = text.encode("utf-8", "surrogatepass")
    flags = plain.translate(_FLAGS)
    masked, count = _mask_escaped(plain, flags)
    if _RARE in flags and _has_non_ascii_digit(plain, flags):
        masked, found = _mask_digits_of_any_script(masked)
        count += found
    if not count:
        return body, 0
    rewritten = masked.decode("utf-8", "surrogatepass").encode(codec, "surrogatepass")
    return body[:mark] + rewritten + body[end:], count


def _wide_encoding(body: bytes) -> tuple[int, str] | None:
    """(length of its byte-order mark, codec) when ``body`` is UTF-16 or UTF-32: by its mark,
    or by where the NULs are among its first four bytes, as JSON text begins with an ASCII
    character (RFC 4627, section 3); None when it is neither."""
    head = body[:4]
    if len(head) < 2 or not (head[0] in (0x00, 0xFE, 0xFF) or head[1] == 0):
        return None  # no mark, no NUL: the usual answer, quickly
    for mark, codec in _WIDE_MARKS:
        if head.startswith(mark):
            return len(mark), codec
    if len(head) == 4 and head[:3] == b"\x00\x00\x00" and head[3]:
        return 0, "utf-32-be"
    if len(head) == 4 and head[0] and head[1:] == b"\x00\x00\x00":
        return 0, "utf-32-le"
    if (head[0] == 0) != (head[1] == 0):
        return 0, "utf-16-be" if head[0] == 0 else "utf-16-le"
    return None


def _has_non_ascii_digit(body: bytes, flags: bytes) -> bool:
    """Whether ``body`` (``flags``, its _FLAGS) holds a non-ASCII digit in UTF-8. A byte that
    could begin one but is followed by an ASCII byte (the "á" of a Latin-1 body, before a
    letter) begins nothing, so a few find()s settle most bodies; past a few candidates, one
    search of the non-ASCII bytes alone (deleting the rest runs at C speed) decides."""
    at = flags.find(_RARE)
    for _ in range(8):
        if at < 0:
            return False
        if body[at + 1 : at + 2] >= b"\x80":
            break
        at = flags.find(_RARE, at + 1)
    return _non_ascii_digit().search(body.translate(None, _ASCII)) is not None


@functools.cache
def _ascii_digits() -> dict[int, int]:
    """Every non-ASCII decimal digit (all lie below U+20000) mapped to its ASCII twin, and the
    fullwidth separators to theirs: a translate() table. Built on first use (a few ms)."""
    table = {
        code: 0x30 + unicodedata.digit(chr(code))
        for code in range(0x80, 0x20000)
        if chr(code).isdecimal()
    }
    return table | _FULLWIDTH_SEPARATORS


def _ranges(codes: list[int]) -> list[tuple[int, int]]:
    """``codes`` (sorted) as (first, last) of each run of consecutive ones."""
    ranges: list[tuple[int, int]] = []
    for code in codes:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))
    return ranges


@functools.cache
def _non_ascii_digit() -> re.Pattern[bytes]:
    """A non-ASCII decimal digit in UTF-8: the leading bytes shared by digits, each followed
    by the ranges of last bytes that make digits with them."""
    last_bytes: dict[bytes, list[int]] = {}
    for code in sorted(_ascii_digits().keys() - _FULLWIDTH_SEPARATORS.keys()):
        encoded = chr(code).encode()
        last_bytes.setdefault(encoded[:-1], []).append(encoded[-1])
    return re.compile(
        b"|".join(
            re.escape(lead)
            + b"["
            + b"".join(b"\\x%02x-\\x%02x" % bounds for bounds in _ranges(last))
            + b"]"
            for lead, last in last_bytes.items()
        )
    )


def _mask_digits_of_any_script(body: bytes) -> tuple[bytes, int]:
    """Mask the card numbers written (wholly or partly) in non-ASCII digits: the body is
    masked as if every digit were ASCII, then each starred digit is starred in the body too;
    the others (the last four) stay in their script. Returns (body, how many)."""
    text = body.decode("utf-8", "surrogateescape")
    # Only the non-ASCII runs are translated: translate() with a table is slow on a long text.
    ascii_text = _NON_ASCII.sub(lambda run: run.group().translate(_ascii_digits()), text)
    plain = ascii_text.encode("utf-8", "surrogateescape")
    masked, count = _mask_pans(plain, plain.translate(_FLAGS))
    if not count:
        return body, 0
    shown = masked.decode("utf-8", "surrogateescape")
    if len(shown) != len(text):
        # A number was made a string (a non-ASCII digit next to a JSON number: not JSON
        # anyway), so the places no longer match: keep the digits in ASCII, masked.
        return masked, count
    # Stars only ever replace digits one for one: put them at the same places in the text.
    pieces: list[str] = []
    cursor = 0
    for stars in _STARS.finditer(shown):
        pieces.append(text[cursor : stars.start()])
        pieces.append(stars.group())
        cursor = stars.end()
    pieces.append(text[cursor:])
    return "".join(pieces).encode("utf-8", "surrogateescape"), count


def _mask_pans(body: bytes, flags: bytes) -> tuple[bytes, int]:
    """Mask every Luhn-valid 13–19 digit card number outside a signature ``hexSign``, in one
    run, in printed groups, or as a number in exponent form; ``flags`` is
    ``body.translate(_FLAGS)``; returns (body, count).

    A run inside a JSON string keeps its last four digits: ``"************1111"``. A run that
    is a JSON *number* becomes that string, quotes included, so the body stays valid JSON.
    (A millisecond timestamp that happens to pass the Luhn check is masked too: card numbers
    must never be stored, so when in doubt, mask.) A number in exponent form that stands for a
    card keeps those digits of its mantissa that are among the card's last four
    (``4.111111111111111E15`` becomes ``"*.***********1111E15"``, a string again when it was a
    JSON number).

    This runs on every webhook request, so the signature (most of a body's bytes, and digits
    that are pixels, not cards) is skipped rather than scanned.
    """
    sign_start, sign_end = _hex_sign(body) if b'"hexSign"' in body else (0, 0)
    # Printed numbers only turn digits into stars and runs of 12 digits never share a digit
    # with one (its groups have six digits at most), so these flags still serve below.
    body, printed = _mask_printed_outside(body, flags, sign_start, sign_end)
    spans: list[tuple[int, int, bool]] = []  # (start, end, a number in exponent form)
    for segment in ((0, sign_start), (sign_end, len(body))):
        for start, end in _long_runs(flags, *segment):
            if body[end : end + 1] in _EXPONENT_MARKS:
                exponent = _exponent_span(body, start)
                if exponent is not None:
                    spans.append((*exponent, True))
                    continue
            if 13 <= end - start <= 19 and luhn_valid(body[start:end]):
                spans.append((start, end, False))
    if not spans:
        return body, printed
    spans.sort(key=lambda span: (span[0], -span[1]))  # a number before the run it begins with
    json_like = body.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] in (b"{", b"[")
    out: list[bytes] = []
    cursor = 0
    count = 0
    state = [0, 0]
    for start, end, exponent_form in spans:
        if start < cursor:
            continue  # inside a number already rewritten
        if json_like and not _in_string(body, start, state):
            # A JSON number (-4111..., 0.0138..., 1e41..., 4.1...E15): the whole number becomes
            # a string with its card digits masked, so the body stays valid JSON and keeps
            # no card digits.
            first, last = start, end
            while first > cursor and body[first - 1 : first] in _NUMBER_BYTES:
                first -= 1
            while last < len(body) and body[last : last + 1] in _NUMBER_BYTES:
                last += 1
            out.append(body[cursor:first])
            out.append(b'"' + _mask_number(body[first:last]) + b'"')
            cursor = last
        else:
            out.append(body[cursor:start])
            out.append(_mask_number(body[start:end]) if exponent_form else _masked(body[start:end]))
            cursor = end
        count += 1
    out.append(body[cursor:])
    return b"".join(out), count + printed
