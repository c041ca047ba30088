"""French and English for every word on the pages, from gettext catalogues (``locale/*.po``,
English msgids) read with Babel at start-up: no compile step, one file a language to translate.

The language is the ``lang`` query parameter when given (the visible switch), else the best
match of ``Accept-Language``, else English."""

from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path

from babel import Locale, negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

__all__ = ["LANGUAGES", "choose", "translations"]

LANGUAGES = ("en", "fr")
FOLDER = Path(__file__).with_name("locale")


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The catalogue of ``language``; English is the msgids themselves."""
    if language == "en":
        return gettext.NullTranslations()
    with (FOLDER / f"{language}.po").open("rb") as fh:
        catalog = read_po(fh, locale=language)
    missing = [
        m.id
        for m in catalog
        if m.id and not (all(m.string) if isinstance(m.string, tuple) else m.string)
    ]
    if missing:  # a page half in English is a bug: refuse to start with it
        raise ValueError(f"locale/{language}.po leaves untranslated: {missing[:5]}")
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def choose(asked: str | None, accept_language: str | None) -> str:
    if asked in LANGUAGES:
        return asked
    preferred = []
    for part in (accept_language or "").split(","):
        tag, _, quality = part.strip().partition(";q=")
        try:
            weight = float(quality) if quality else 1.0
        except ValueError:
            continue
        if tag:
            preferred.append((weight, tag.strip().replace("-", "_")))
    ordered = [tag for _, tag in sorted(preferred, key=lambda p: -p[0])]
    found = negotiate_locale(ordered, list(LANGUAGES), sep="_") if ordered else None
    return str(Locale.parse(found).language) if found else "en"
