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


def test_former_communes_are_found_where_they_are_now_and_say_so(gazetteer) -> None:
    # Merged into communes nouvelles since 2015; La Poste's Ligne_5 still names them.
    cases = {
        "Segré": ("Segre En Anjou Bleu", 47.70, -0.86),
        "Brantôme": ("Brantome En Perigord", 45.36, 0.66),
        "Pouancé": ("Ombree D Anjou", 47.76, -1.19),
        "Nassandres": ("Nassandres Sur Risle", 49.13, 0.74),
        "Les Avenières": ("Les Avenieres Veyrins Thuellin", 45.64, 5.57),
    }
    for name, (now, lat, lng) in cases.items():
        point = gazetteer.place(name)
        assert point is not None and km(point, lat, lng) < 2, name
        assert point.label == f"{name} (now {now})", point.label
    # With its postcode, in an address as an import row writes it.
    segre = gazetteer.geocode_address(country="FR", postcode="49500", city="SEGRE")
    assert segre.label == "49500 SEGRE (now SEGRE EN ANJOU BLEU)"
    # A current commune of the same name wins over a former one (Saint-Martin-du-Bois, Gironde,
    # and the former commune of that name now in Segré-en-Anjou Bleu).
    assert km(gazetteer.place("St Martin du Bois"), 45.02, -0.26) < 5


def test_spellings_of_one_place_are_one_place(gazetteer) -> None:
    spellings = ["Saint Etienne", "st-etienne", "ST ETIENNE", "Saint-Étienne", "saint étienne"]
    points = [gazetteer.place(s) for s in spellings]
    assert all(p is not None and km(p, 45.43, 4.39) < 10 for p in points), points
    assert len({(p.lat, p.lng) for p in points}) == 1


def test_cedex_postcodes_are_found_in_their_departement(gazetteer) -> None:
    # Business addresses: the CEDEX code is not a place, the town and département are.
    lyon = gazetteer.geocode_address(country="FR", postcode="69421", city="LYON CEDEX 03")
    assert lyon is not None and km(lyon, 45.76, 4.84) < 5
    assert km(gazetteer.place("69421 Lyon Cedex 03"), 45.76, 4.84) < 5
    paris = gazetteer.geocode_address(country="FR", postcode="75008 CEDEX", city="PARIS")
    assert paris is not None and km(paris, 48.87, 2.31) < 3
    # The département decides between namesakes: Saint-Denis CEDEX in Seine-Saint-Denis (93),
    # not Saint-Denis de La Réunion.
    st_denis = gazetteer.geocode_address(country="FR", postcode="93284", city="ST DENIS CEDEX")
    assert st_denis is not None and km(st_denis, 48.93, 2.36) < 5
