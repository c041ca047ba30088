"""Checks a type alone cannot express: postcodes, phones, opening hours, time zones, identifiers.

Each returns a list of FieldError with a JSON pointer, so one request reports every problem at once.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Sequence
from functools import cache
from importlib import resources
from urllib.parse import urlsplit

import opening_hours
import phonenumbers
import pycountry

from directory.errors import FieldError
from directory.profiles.overseas import territory_of
from search import hours

__all__ = [
    "check_country",
    "check_identifier",
    "check_opening_hours",
    "check_postcode",
    "check_timezone",
    "check_url",
    "default_timezone",
    "normalise_phone",
]


# Postcode formats of the countries we know; others are free text within the length limit.
POSTCODE_FORMATS: dict[str, re.Pattern[str]] = {
    code: re.compile(pattern)
    for code, pattern in {
        "FR": r"(?:0[1-9]|[1-8]\d|9[0-8])\d{3}",
        "MC": r"980\d{2}",
        "BE": r"[1-9]\d{3}",
        "CH": r"[1-9]\d{3}",
        "LI": r"94[89]\d|949[0-7]",
        "AT": r"[1-9]\d{3}",
        "LU": r"(?:L-)?\d{4}",
        "DE": r"\d{5}",
        "NL": r"[1-9]\d{3} ?[A-Z]{2}",
        "ES": r"(?:0[1-9]|[1-4]\d|5[0-2])\d{3}",
        "IT": r"\d{5}",
        "PT": r"\d{4}-\d{3}",
        "PL": r"\d{2}-\d{3}",
        "DK": r"\d{4}",
        "SE": r"\d{3} ?\d{2}",
        "IE": r"[AC-FHKNPRTV-Y]\d{2}(?: ?[0-9AC-FHKNPRTV-Y]{4})?",
        "GB": r"(?:GIR 0AA|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2})",
        "US": r"\d{5}(?:-\d{4})?",
        "CA": r"[A-Z]\d[A-Z] ?\d[A-Z]\d",
    }.items()
}


def check_country(code: str, pointer: str) -> list[FieldError]:
    if pycountry.countries.get(alpha_2=code) is None:
        return [FieldError(pointer, f"{code!r} is not an ISO 3166-1 alpha-2 country code")]
    return []


def check_postcode(postcode: str | None, country: str, pointer: str) -> list[FieldError]:
    pattern = POSTCODE_FORMATS.get(country)
    if postcode is None or pattern is None or pattern.fullmatch(postcode):
        return []
    return [FieldError(pointer, f"{postcode!r} is not a valid postcode for {country}")]


def normalise_phone(
    raw: str, regions: str | Sequence[str], pointer: str
) -> tuple[str | None, list[FieldError]]:
    """The number in E.164. One without an international prefix is read in each of ``regions``
    (the site's numbering plans, most likely first: see overseas.phone_regions) until one finds
    it valid."""
    failures: list[phonenumbers.NumberParseException] = []
    for region in [regions] if isinstance(regions, str) else regions:
        try:
            number = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException as err:
            failures.append(err)
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), []
    if failures and len(failures) == (1 if isinstance(regions, str) else len(regions)):
        return None, [FieldError(pointer, f"not a phone number: {failures[0]}")]
    return None, [FieldError(pointer, f"{raw!r} is not a valid phone number")]


def check_opening_hours(expression: str | None, pointer: str) -> list[FieldError]:
    """Accepted as the reference (opening_hours.js) accepts it: a weekly value read by
    search.hours, anything else by the opening-hours library, after the checks of dates that
    library lets through (31 June, inverted ranges, degenerate periods)."""
    if expression is None:
        return []
    try:
        if hours.week(expression) is not None:
            return []
    except hours.HoursError as err:
        return [FieldError(pointer, f"invalid OpenStreetMap opening_hours: {err}")]
    problem = calendar_problem(expression)
    if problem is not None:
        return [FieldError(pointer, f"invalid OpenStreetMap opening_hours: {problem}")]
    try:
        opening_hours.OpeningHours(hours.normalise(expression))
    except Exception as err:  # the parser raises its own (untyped) ParserError
        first_line = str(err).strip().splitlines()
        detail = " ".join(line.strip() for line in first_line[:1] + first_line[-1:])
        return [FieldError(pointer, f"invalid OpenStreetMap opening_hours: {detail}")]
    return []


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_DAYS = dict(zip(_MONTHS, (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31), strict=True))
_MONTH_DAY = re.compile(r"\b(" + "|".join(_MONTHS) + r")\s+(\d{1,2})(?:\s*-\s*(\d{1,2}))?\b(?!:)")
_WEEK_PERIOD = re.compile(r"\bweek\s*(\d{1,2})-(\d{1,2})/(\d{1,2})")
_YEARS = re.compile(r"(?<![\d:])(\d{4})-(\d{4})(?![\d:])")
_TIME_PERIOD = re.compile(r"\d{1,2}:\d{2}-\d{1,2}:\d{2}/\d")


def calendar_problem(expression: str) -> str | None:
    """What the reference refuses in dates and periods and the opening-hours library accepts."""
    for match in _MONTH_DAY.finditer(expression):
        month, first, last = match.group(1), int(match.group(2)), match.group(3)
        for day in (first, int(last) if last else first):
            if not 1 <= day <= _MONTH_DAYS[month]:
                return f"{match.group(0)}: {month} has {_MONTH_DAYS[month]} days at most"
        if last and int(last) < first:
            return f"{match.group(0)}: a range of days runs forward (from the earlier day)"
    for match in _WEEK_PERIOD.finditer(expression):
        if int(match.group(3)) > 26:
            return (
                f"{match.group(0)}: a period of more than 26 weeks applies once a year; "
                "name the week instead"
            )
    for match in _YEARS.finditer(expression):
        if int(match.group(2)) <= int(match.group(1)):
            return f"{match.group(0)}: a range of years runs forward and spans two at least"
    if _TIME_PERIOD.search(expression):
        return "a repeating time (…/period) is a point in time, not opening hours"
    return None


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@cache
def _zones_by_country() -> dict[str, list[str]]:
    by_country: dict[str, list[str]] = {}
    text = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text()
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        country, _coords, zone = line.split("\t")[:3]
        by_country.setdefault(country, []).append(zone)
    return by_country


def check_timezone(name: str, pointer: str) -> list[FieldError]:
    if name not in _zones():
        return [FieldError(pointer, f"{name!r} is not an IANA time zone")]
    return []


def default_timezone(
    country: str, postcode: str | None = None, location: tuple[float, float] | None = None
) -> str | None:
    """The zone of a country that has exactly one (FR, BE, DE …), or of the French overseas
    territory the postcode or location names; None where it must be given."""
    overseas = territory_of(country, postcode, location)
    if overseas is not None:
        return overseas.zone
    if country in _MAIN_ZONE:
        return _MAIN_ZONE[country]
    zones = _zones_by_country().get(country, [])
    return zones[0] if len(zones) == 1 else None


# Countries whose second zone is a tiny exclave (Büsingen): the main zone is the safe default.
_MAIN_ZONE = {"DE": "Europe/Berlin"}


def check_url(url: str | None, pointer: str) -> list[FieldError]:
    if url is None:
        return []
    try:
        parts = urlsplit(url)
    except ValueError:  # "http://[x": an unclosed IPv6 literal
        return [FieldError(pointer, "must be an absolute http(s) URL")]
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
        return [FieldError(pointer, "must be an absolute http(s) URL")]
    return []


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


IDENTIFIER_FORMATS: dict[str, re.Pattern[str]] = {
    "siren": re.compile(r"\d{9}"),
    "siret": re.compile(r"\d{14}"),
    "vat": re.compile(r"[A-Z]{2}[A-Z0-9+*.]{2,13}"),
    "company-number": re.compile(r"[A-Z0-9]{2,16}"),
    "kbo": re.compile(r"[01]\d{9}"),
    "uid": re.compile(r"CHE\d{9}"),
    "hrb": re.compile(r"[A-Z0-9 ]{2,32}"),
}


def check_identifier(scheme: str, value: str, pointer: str) -> list[FieldError]:
    pattern = IDENTIFIER_FORMATS.get(scheme)
    if pattern is not None and not pattern.fullmatch(value):
        return [FieldError(pointer, f"{value!r} is not a well-formed {scheme}")]
    # SIREN and SIRET carry a Luhn check digit (La Poste's SIRETs are the one documented exception).
    if scheme in ("siren", "siret") and not _luhn(value) and not value.startswith("356000000"):
        return [FieldError(pointer, f"{value!r} fails the {scheme.upper()} check digit")]
    return []
