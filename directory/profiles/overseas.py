"""France beyond Europe: the overseas départements and collectivités that French registers list
under country FR, with national phone numbers (0262 …, 0590 …) and postcodes 97xxx/98xxx.

Each territory has its own telephone country code and time zone, so a row read with
metropolitan rules loses its phone (0262 is not a metropolitan prefix) and gets Europe/Paris.
The territory is found from the postcode when there is one, else from the location.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["OVERSEAS", "Territory", "phone_regions", "territory_of"]


class Territory(NamedTuple):
    name: str
    region: str  # ISO 3166-1 code, which phonenumbers also uses for the numbering plan
    zone: str  # IANA time zone of the main island or town
    postcodes: tuple[str, ...]  # prefixes; the longest one that matches wins
    box: tuple[float, float, float, float]  # south, north, west, east (degrees)


OVERSEAS: tuple[Territory, ...] = (
    Territory("Guadeloupe", "GP", "America/Guadeloupe", ("971",), (15.8, 16.55, -61.85, -60.95)),
    Territory(
        "Saint-Barthélemy",
        "BL",
        "America/St_Barthelemy",
        ("97133", "977"),
        (17.85, 17.98, -62.95, -62.78),
    ),
    Territory(
        "Saint-Martin", "MF", "America/Marigot", ("97150", "978"), (18.03, 18.13, -63.16, -62.96)
    ),
    Territory("Martinique", "MQ", "America/Martinique", ("972",), (14.38, 14.89, -61.25, -60.8)),
    Territory("Guyane", "GF", "America/Cayenne", ("973",), (2.1, 5.8, -54.6, -51.6)),
    Territory("La Réunion", "RE", "Indian/Reunion", ("974",), (-21.4, -20.85, 55.2, 55.85)),
    Territory(
        "Saint-Pierre-et-Miquelon", "PM", "America/Miquelon", ("975",), (46.7, 47.15, -56.45, -56.1)
    ),
    Territory("Mayotte", "YT", "Indian/Mayotte", ("976",), (-13.05, -12.6, 44.95, 45.35)),
    Territory("Wallis-et-Futuna", "WF", "Pacific/Wallis", ("986",), (-14.4, -13.2, -178.3, -176.1)),
    Territory(
        "Polynésie française", "PF", "Pacific/Tahiti", ("987",), (-28.0, -7.8, -155.0, -134.0)
    ),
    Territory("Nouvelle-Calédonie", "NC", "Pacific/Noumea", ("988",), (-23.0, -19.5, 163.5, 168.2)),
)
_BY_REGION = {t.region: t for t in OVERSEAS}


def territory_of(
    country: str, postcode: str | None = None, location: tuple[float, float] | None = None
) -> Territory | None:
    """The overseas territory of an address listed under FR (or under the territory's own code),
    from its postcode, else its location; None for metropolitan France and everywhere else."""
    if country in _BY_REGION:
        return _BY_REGION[country]
    if country != "FR":
        return None
    code = (postcode or "").replace(" ", "")
    if code.startswith(("97", "98")):
        matches = [(len(p), t) for t in OVERSEAS for p in t.postcodes if code.startswith(p)]
        if matches:
            return max(matches, key=lambda m: m[0])[1]
    if location is not None:
        lat, lng = location
        for t in OVERSEAS:
            south, north, west, east = t.box
            if south <= lat <= north and west <= lng <= east:
                return t
    return None


def phone_regions(
    country: str, postcode: str | None = None, location: tuple[float, float] | None = None
) -> list[str]:
    """The numbering plans to read a national number in, most likely first. Under FR, after the
    address's own territory and metropolitan France come the overseas plans: their national
    prefixes (0262, 0590, 0594, 0596, 0639 …) do not overlap metropolitan ones, so a number that
    is valid in one of them is that territory's."""
    found = territory_of(country, postcode, location)
    regions = [found.region] if found else []
    if country == "FR" or found is not None:
        regions += ["FR", *(t.region for t in OVERSEAS)]
    else:
        regions.append(country)
    return list(dict.fromkeys(regions))
