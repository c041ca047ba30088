"""The offline gazetteer: postcodes and localities of the shipped reference data."""

from __future__ import annotations

from geopy.distance import geodesic

from search.geocode import GeopyGeocoder, normalise_name


def km(point, lat: float, lng: float) -> float:
    return float(geodesic((point.lat, point.lng), (lat, lng)).km)


def test_postcodes_of_several_countries_resolve(gazetteer) -> None:
    cases = [
        ("FR", "69003", "Lyon", 45.76, 4.85),
        ("DE", "10115", None, 52.53, 13.38),
        ("BE", "1000", None, 50.85, 4.35),
        ("LU", "L-4906", None, 49.59, 5.98),
        ("GB", "M9", None, 53.52, -2.21),
        ("CH", "5000", None, 47.39, 8.05),
    ]
    for country, postcode, city, lat, lng in cases:
        point = gazetteer.geocode_address(country=country, postcode=postcode, city=city)
        assert point is not None and km(point, lat, lng) < 5, (country, postcode)


def test_a_shared_postcode_picks_the_named_commune(gazetteer) -> None:
    # 69510 covers Yzeron, Thurins, Messimy, Rontalon …; the name decides which one.
    yzeron = gazetteer.geocode_address(country="FR", postcode="69510", city="Yzeron")
    messimy = gazetteer.geocode_address(country="FR", postcode="69510", city="Messimy")
    assert km(yzeron, 45.7096, 4.5954) < 0.1
    assert km(messimy, 45.6989, 4.6715) < 0.1


def test_names_match_whatever_the_accents_and_abbreviations(gazetteer) -> None:
    assert normalise_name("Saint-Étienne") == normalise_name("ST ETIENNE")
    point = gazetteer.geocode_address(country="FR", postcode=None, city="Saint-Étienne")
    assert point is not None and km(point, 45.43, 4.39) < 10


def test_unknown_places_are_none(gazetteer) -> None:
    assert gazetteer.geocode_address(country="FR", postcode="00000", city="Atlantis") is None


class FakeProvider:
    """A stand-in for a geocoding web service (the only thing faked in the suite)."""

    def __init__(self, answer) -> None:
        self.answer, self.calls = answer, 0

    def geocode(self, query: str):
        self.calls += 1
        return self.answer


def test_a_web_provider_is_cached_and_falls_back_to_the_gazetteer(gazetteer) -> None:
    from geopy.location import Location
    from geopy.point import Point

    found = FakeProvider(Location("12 rue X, Lyon", Point(45.1, 4.1), {}))
    geo = GeopyGeocoder(found, fallback=gazetteer, min_delay_seconds=0)
    for _ in range(3):
        point = geo.geocode_address(country="FR", postcode="69003", city="Lyon", street="12 rue X")
        assert point is not None and (point.lat, point.source) == (45.1, "provider")
    assert found.calls == 1
    missing = GeopyGeocoder(FakeProvider(None), fallback=gazetteer, min_delay_seconds=0)
    point = missing.geocode_address(country="FR", postcode="69003", city="Lyon", street=None)
    assert point is not None and point.source == "gazetteer"
