"""Vehicle identification numbers (ISO 3779): the maker from the WMI (ISO 3780, ``wmi.toml``),
the check digit where it applies, the model year.

The check digit (position 9, 49 CFR 565.15) is required on vehicles for North America (WMI
regions 1–5) and China (L); elsewhere makers may use position 9 as they like, so a digit that
does not check is no error there. Position 10 is the model year in North America and China
(read exactly: position 7 tells the 30-year cycle in North America); most European makers write
it too, but nothing obliges them, so outside those regions the year read is marked uncertain."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from certifications.catalogue import CatalogueError

__all__ = ["DecodedVin", "VinError", "check_digit", "decode_vin"]

FILE = Path(__file__).with_name("wmi.toml")
_VIN = re.compile(r"[A-HJ-NPR-Z0-9]{17}")
_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
_YEARS = "ABCDEFGHJKLMNPRSTVWXY123456789"  # 1980 … 2009, then again from 2010


class VinError(ValueError):
    """Not a VIN, or one whose check digit is wrong where it must be right."""


class Maker(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    brand: Annotated[str, Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]
    maker: str
    check_digit: bool = False


class _File(msgspec.Struct, forbid_unknown_fields=True):
    wmi: dict[Annotated[str, Meta(pattern=r"^[A-HJ-NPR-Z0-9]{3}$")], Maker]


class DecodedVin(msgspec.Struct, frozen=True, kw_only=True):
    vin: str
    wmi: str
    brand: str | None  # the directory's brand slug, None for a WMI the table lacks
    maker: str | None
    region: str
    check_digit: Literal["valid", "not used"]  # "invalid" is an error where it applies
    model_year: int | None
    model_year_certain: bool


@cache
def makers() -> dict[str, Maker]:
    try:
        return msgspec.toml.decode(FILE.read_bytes(), type=_File).wmi
    except (OSError, msgspec.ValidationError, msgspec.DecodeError) as err:
        raise CatalogueError(f"{FILE.name}: {err}") from err


def check_digit(vin: str) -> str:
    """The position-9 character a VIN's other sixteen call for (0–9 or X)."""
    total = sum(_VALUES[c] * w for c, w in zip(vin, _WEIGHTS, strict=True))
    return "X" if total % 11 == 10 else str(total % 11)


def _region(first: str) -> str:
    if first in "ABCDEFGH":
        return "Africa"
    if first in "JKLMNPR":
        return "Asia"
    if first in "STUVWXYZ":
        return "Europe"
    if first in "12345":
        return "North America"
    if first in "67":
        return "Oceania"
    return "South America"


def decode_vin(text: str, today: datetime | None = None) -> DecodedVin:
    vin = re.sub(r"[\s-]", "", text).upper()
    if not _VIN.fullmatch(vin):
        bad = sorted(set(vin) & set("IOQ"))
        why = (
            f"it holds {', '.join(bad)}, which VINs never use (they read as 1 and 0)"
            if bad and len(vin) == 17
            else f"a VIN has 17 letters and digits, this one {len(vin)} characters"
            if len(vin) != 17
            else "a VIN holds only letters (not I, O, Q) and digits"
        )
        raise VinError(f"{text[:30]!r} is not a VIN: {why}")
    maker = makers().get(vin[:3])
    required = vin[0] in "12345L" or bool(maker and maker.check_digit)
    expected = check_digit(vin)
    if vin[8] != expected and required:
        raise VinError(
            f"{vin}: the check digit (9th character) is {vin[8]}, the other characters call "
            f"for {expected}; a character was probably misread"
        )
    year = None
    certain = vin[0] in "12345L"
    if vin[9] in _YEARS:
        year = 1980 + _YEARS.index(vin[9])
        latest = (today or datetime.now(UTC)).year + 1
        if vin[0] in "12345":
            if vin[6].isalpha():  # 49 CFR 565.15: a letter in position 7 means 2010–2039
                year += 30
        else:
            while year + 30 <= latest:
                year += 30
    else:
        certain = False
    return DecodedVin(
        vin=vin,
        wmi=vin[:3],
        brand=maker.brand if maker else None,
        maker=maker.maker if maker else None,
        region=_region(vin[0]),
        check_digit="valid" if vin[8] == expected else "not used",
        model_year=year,
        model_year_certain=certain and year is not None,
    )
