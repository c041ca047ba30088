"""Weekly opening hours as OpenStreetMap mappers write them, read the way the reference
implementation (opening_hours.js, whose test suite is the de-facto specification) reads them.

Most workshops' hours are a week: weekday selectors (``Mo-Fr``, ``Sa,Su``, ``Sa-Mo``), time spans
(``08:00-12:00,14:00-18:00``, ``22:00-02:00`` past midnight, up to ``48:00``), ``off``/``closed``,
``24/7``, rules separated by ``;`` (a later rule replaces what earlier ones said of the days it
names) or ``,`` (an additional rule: it adds, or with ``off`` removes). This module reads that
subset itself; anything else (dates, months, weeks, public holidays, sunrise …) is left to the
opening-hours library (``week()`` returns None).

Two readings differ from that library's, and follow the reference:
- a span past midnight belongs to the next day as that day's content: only a later rule naming
  that next day replaces it (``Mo-Fr,Su 11:00-01:00; Sa 11:00-02:00`` is open on Sunday at
  01:30, Saturday's evening running on);
- a comma-separated list of weekdays with spaces (``Mo, Tu, We 11:00-18:00``, common in real
  data) is one selector, not three rules of which the first two are open all day.
"""

from __future__ import annotations

import re

__all__ = ["HoursError", "normalise", "week"]

DAY = 1440
WEEK = 7 * DAY
WEEKDAYS = ("mo", "tu", "we", "th", "fr", "sa", "su")
_WEEKDAY = r"(?:mo|tu|we|th|fr|sa|su)"
_SPACED_LIST = re.compile(rf"(?i)\b({_WEEKDAY})\s*,\s+(?={_WEEKDAY}\b)")
_SPAN = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
_DAYS = re.compile(rf"(?i)^{_WEEKDAY}(?:-{_WEEKDAY})?(?:,{_WEEKDAY}(?:-{_WEEKDAY})?)*$")
_MODIFIERS = {"open": "open", "off": "off", "closed": "off", "unknown": "unknown"}


class HoursError(ValueError):
    """A weekly value that is wrong, not merely outside the weekly subset."""


def normalise(expression: str) -> str:
    """``Mo, Tu, We 11:00-18:00`` → ``Mo,Tu,We 11:00-18:00``: one weekday selector (the
    reference's reading), before any parser sees it."""
    return _SPACED_LIST.sub(r"\1,", expression.strip())


def week(expression: str) -> bytearray | None:
    """Open minutes of a week (Monday 00:00 first, local time) for a weekly value; None when
    the value uses more than the weekly subset. Raises HoursError for a weekly value that is
    wrong (a span starting at or after 24:00, ending past 48:00)."""
    text = normalise(expression)
    if not text:
        return None
    minutes = bytearray(WEEK)
    previous_named: bool | None = None
    for separator, rule in _rules(text):
        parsed = _rule(rule)
        if parsed is None:
            return None
        days, named, spans, modifier = parsed
        # When a rule replaces what earlier rules said of its days (the reference's rule): a
        # ";" rule that opens (or says unknown) and names its days; one with times alone
        # replaces only after another with times alone ("00:00-01:00; 00:00-00:15"), and adds
        # after one that names days ("Mo 10:00-12:00; 14:00-16:00"). "off" never replaces: it
        # closes what it names.
        replaces = separator == ";" and (
            (named and modifier != "off")
            or (not named and modifier == "open" and previous_named is False)
        )
        _apply(minutes, days, spans, modifier == "open", replace=replaces)
        previous_named = named
    return minutes


def _rules(text: str) -> list[tuple[str, str]]:
    """(separator before it, rule text) of each rule. A comma separates rules when what follows
    is a new selector after a time or a modifier (``Mo 10:00-12:00, Tu 14:00-16:00``); between
    weekdays or between time spans it is part of the rule."""
    rules: list[tuple[str, str]] = []
    for part in text.split(";"):
        pieces = [x.strip() for x in part.strip().split(",")]
        current, separator = pieces[0], ";"
        for piece in pieces[1:]:
            tail = current.split()[-1].split(",")[-1].lower() if current.split() else ""
            ends_rule = bool(_SPAN.match(tail)) or tail in _MODIFIERS
            starts_days = bool(re.match(rf"(?i){_WEEKDAY}\b", piece)) or piece == "24/7"
            if ends_rule and starts_days:
                rules.append((separator, current))
                current, separator = piece, ","
            else:
                current = f"{current},{piece}"
        rules.append((separator, current))
    return rules


def _rule(rule: str) -> tuple[list[int], bool, list[tuple[int, int]], str] | None:
    """(days, whether it names them, spans in minutes from the day's start, and what it says:
    open, off or unknown) of one rule, or None."""
    words = rule.split()
    if not words:
        return None
    named = False
    if [w.lower() for w in words[:1]] == ["24/7"]:
        rest = words[1:]
        days, spans = list(range(7)), [(0, DAY)]
    else:
        days = list(range(7))
        if _DAYS.match(words[0]):
            named = True
            days = _weekdays(words[0].lower())
            words = words[1:]
        spans = [(0, DAY)]
        if words and words[0].lower() not in _MODIFIERS:
            found = [_span(s) for s in words[0].split(",")]
            if any(s is None for s in found):
                return None
            spans = [s for s in found if s is not None]
            words = words[1:]
        rest = words
    if len(rest) > 1 or (rest and rest[0].lower() not in _MODIFIERS):
        return None
    return days, named, spans, _MODIFIERS[rest[0].lower()] if rest else "open"


def _weekdays(selector: str) -> list[int]:
    days: list[int] = []
    for part in selector.split(","):
        first, _, last = part.partition("-")
        a = WEEKDAYS.index(first)
        b = WEEKDAYS.index(last) if last else a
        days += [(a + k) % 7 for k in range((b - a) % 7 + 1)]  # Sa-Mo wraps over the week
    return list(dict.fromkeys(days))


def _span(text: str) -> tuple[int, int] | None:
    match = _SPAN.match(text)
    if match is None:
        return None
    h0, m0, h1, m1 = (int(g) for g in match.groups())
    if m0 > 59 or m1 > 59:
        raise HoursError(f"{text}: minutes run from 00 to 59")
    start, end = h0 * 60 + m0, h1 * 60 + m1
    if start >= DAY:
        raise HoursError(f"{text}: a span must start before 24:00, the end of its day")
    if end > 2 * DAY:
        raise HoursError(f"{text}: a span ends at 48:00 at the latest")
    if end <= start:
        end += DAY  # 22:00-02:00 runs past midnight; 10:00-10:00 is a whole turn of the clock
    return start, end


def _apply(
    minutes: bytearray, days: list[int], spans: list[tuple[int, int]], opens: bool, replace: bool
) -> None:
    if replace:
        # A rule replaces what was said of its days — first for all of them, so that its own
        # spans past midnight into a day it also names survive.
        for day in days:
            minutes[day * DAY : (day + 1) * DAY] = bytes(DAY)
    value = 1 if opens else 0
    for day in days:
        for start, end in spans:
            for begin, stop in _week_slices(day * DAY + start, day * DAY + end):
                minutes[begin:stop] = bytes([value]) * (stop - begin)


def _week_slices(begin: int, stop: int) -> list[tuple[int, int]]:
    """[begin, stop) in week minutes, wrapped from Sunday night into Monday morning."""
    if stop <= WEEK:
        return [(begin, stop)]
    if begin >= WEEK:
        return [(begin - WEEK, stop - WEEK)]
    return [(begin, WEEK), (0, stop - WEEK)]
