"""Diagnostic trouble codes as SAE J2012 / ISO 15031-6 write them: a system letter (P
powertrain, B body, C chassis, U network), a digit 0–3, three hexadecimal digits (``P0AA6``).
The second character says who assigned the code: SAE (generic, the same meaning on every car)
or the carmaker (its own meaning). Telematics often append the failure-type byte of ISO 14229
(``P0AA6-1C``, ``P0AA61C``): it is kept, and a code is matched on its first five characters."""

from __future__ import annotations

import re
from typing import Literal

import msgspec

__all__ = ["Code", "CodeError", "parse_code", "parse_range"]

SYSTEMS = {"P": "powertrain", "B": "body", "C": "chassis", "U": "network"}
_CODE = re.compile(r"([PBCU])([0-3])([0-9A-F]{3})(?:-?([0-9A-F]{2}))?")


class CodeError(ValueError):
    """Not a diagnostic trouble code; the message says what one looks like."""


class Code(msgspec.Struct, frozen=True, kw_only=True):
    code: str  # the five characters, upper case
    failure_type: str | None  # ISO 14229 failure-type byte, when given
    system: Literal["powertrain", "body", "chassis", "network"]
    scope: Literal["generic", "manufacturer"]

    @property
    def value(self) -> int:
        """A number that orders codes as ranges are written (``P0A00`` < ``P0AA6`` < ``P0AFF``)."""
        return "PBCU".index(self.code[0]) << 16 | int(self.code[1:], 16)


def _scope(letter: str, digit: str, third: str) -> Literal["generic", "manufacturer"]:
    # J2012: P0, P2 and P34–P39 are SAE's; P1 and P30–P33 the carmaker's. For B, C and U,
    # 0 and 3 are SAE's, 1 and 2 the carmaker's.
    if letter == "P":
        if digit == "1" or (digit == "3" and third in "0123"):
            return "manufacturer"
        return "generic"
    return "manufacturer" if digit in "12" else "generic"


def parse_code(text: str) -> Code:
    """A code as a scanner or a telematics unit sends it, spaces and case forgiven."""
    cleaned = text.strip().upper()
    match = _CODE.fullmatch(cleaned)
    if match is None:
        raise CodeError(
            f"{text[:20]!r} is not a diagnostic trouble code: SAE J2012 writes a letter P, B, C "
            "or U, a digit 0–3 and three hexadecimal digits (P0AA6), optionally followed by a "
            "failure-type byte (P0AA6-1C)"
        )
    letter, digit, rest, failure = match.groups()
    return Code(
        code=f"{letter}{digit}{rest}",
        failure_type=failure,
        system=SYSTEMS[letter],  # type: ignore[arg-type]
        scope=_scope(letter, digit, rest[0]),
    )


def parse_range(text: str) -> tuple[int, int]:
    """``P0A00-P0AFF`` (inclusive) or one code, as (first, last) values; the catalogue's form."""
    first, _, last = text.partition("-")
    if len(first.strip()) != 5 or (last and len(last.strip()) != 5):
        raise CodeError(f"{text!r}: a code (P0AA6) or a range of two codes (P0A00-P0AFF)")
    low = parse_code(first).value
    high = parse_code(last).value if last else low
    if high < low:
        raise CodeError(f"{text!r}: the range ends before it starts")
    if high >> 16 != low >> 16:
        raise CodeError(f"{text!r}: a range stays within one system letter")
    return low, high
