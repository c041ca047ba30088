"""A realistic demo dataset: workshops spread like real French ones, generated from the gazetteer.

Every demo organisation has source "demo" and a name ending in "(démo)", so nobody mistakes it for
a real business. Generation is seeded: the same dataset every time.
"""

from __future__ import annotations

import json
import math
import os
import random
import secrets
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from certifications import jws
from certifications.catalogue import Catalogue
from directory.db import transaction
from directory.models import Claim, Issuer, Organisation, Site, Technician
from directory.trust import service as trust
from search.geocode import Gazetteer

SOURCE = "demo"

# The largest French urban areas (INSEE, population in thousands, rounded): most workshops sit
# where the cars are, the rest are spread over rural communes.
CITIES: list[tuple[str, float, float, int]] = [
    ("Paris", 48.8566, 2.3522, 10800),
    ("Lyon", 45.7640, 4.8357, 2300),
    ("Marseille", 43.2965, 5.3698, 1900),
    ("Toulouse", 43.6047, 1.4442, 1450),
    ("Lille", 50.6292, 3.0573, 1500),
    ("Bordeaux", 44.8378, -0.5792, 1350),
    ("Nice", 43.7102, 7.2620, 1000),
    ("Nantes", 47.2184, -1.5536, 1000),
    ("Strasbourg", 48.5734, 7.7521, 850),
    ("Montpellier", 43.6108, 3.8767, 800),
    ("Rennes", 48.1173, -1.6778, 750),
    ("Grenoble", 45.1885, 5.7245, 700),
    ("Rouen", 49.4432, 1.0999, 650),
    ("Toulon", 43.1242, 5.9280, 600),
    ("Clermont-Ferrand", 45.7772, 3.0870, 500),
    ("Saint-Étienne", 45.4397, 4.3872, 530),
    ("Tours", 47.3941, 0.6848, 500),
    ("Nancy", 48.6921, 6.1844, 500),
    ("Orléans", 47.9030, 1.9093, 450),
    ("Caen", 49.1829, -0.3707, 470),
    ("Angers", 47.4784, -0.5632, 440),
    ("Dijon", 47.3220, 5.0415, 400),
    ("Metz", 49.1193, 6.1757, 400),
    ("Reims", 49.2583, 4.0317, 350),
    ("Brest", 48.3904, -4.4861, 320),
    ("Le Mans", 48.0061, 0.1996, 350),
    ("Limoges", 45.8336, 1.2611, 300),
    ("Perpignan", 42.6887, 2.8948, 330),
    ("Avignon", 43.9493, 4.8055, 340),
    ("Amiens", 49.8941, 2.2958, 300),
    ("Besançon", 47.2378, 6.0241, 280),
    ("Poitiers", 46.5802, 0.3404, 260),
    ("Pau", 43.2951, -0.3708, 250),
    ("Bayonne", 43.4929, -1.4748, 300),
    ("La Rochelle", 46.1603, -1.1511, 230),
    ("Annecy", 45.8992, 6.1294, 250),
]
BRANDS = [
    "renault",
    "peugeot",
    "citroen",
    "dacia",
    "volkswagen",
    "toyota",
    "ford",
    "opel",
    "fiat",
    "bmw",
    "mercedes-benz",
    "audi",
    "skoda",
    "kia",
    "hyundai",
    "nissan",
    "seat",
    "tesla",
    "volvo",
    "ds",
    "mini",
    "suzuki",
    "mazda",
    "byd",
    "mg",
]
SERVICES = [
    "diagnostics",
    "electrical",
    "air_conditioning",
    "brakes",
    "tyres",
    "body_repair",
    "glass",
    "oil_change",
    "exhaust",
    "suspension",
    "clutch",
    "alignment",
    "batteries",
    "painting",
    "ev_battery",
    "adas_calibration",
    "inspection",
    "transmission",
]
PREFIXES = [
    "Garage",
    "Atelier",
    "Auto Service",
    "Carrosserie",
    "Mécanique",
    "Centre Auto",
    "Garage du Centre",
    "Auto Pro",
    "Garage de la Gare",
    "Relais Auto",
]
SURNAMES = [
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefebvre",
    "Michel",
    "Garcia",
    "David",
    "Bertrand",
    "Roux",
    "Vincent",
    "Fournier",
    "Morel",
    "Girard",
    "André",
    "Mercier",
]
HOURS = [
    "Mo-Fr 08:00-12:00,14:00-18:00; Sa 08:00-12:00",
    "Mo-Fr 08:00-18:30",
    "Mo-Fr 07:30-19:00; Sa 08:00-17:00",
    "Tu-Sa 08:30-12:00,13:30-18:30",
    "Mo-Fr 08:00-12:00,13:30-18:00",
    "Mo-Sa 08:00-19:00",
]
STREETS = ["de la Gare", "Victor Hugo", "Jean Jaurès", "des Artisans", "du Moulin", "Pasteur"]
KINDS = ["independent"] * 6 + ["dealer"] * 2 + ["bodyshop", "fast-fit", "specialist"]


def _km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    x = math.radians(lng2 - lng1) * math.cos(math.radians((lat1 + lat2) / 2))
    return 6371.0 * math.hypot(x, math.radians(lat2 - lat1))


def _luhn_complete(body: str) -> str:
    for digit in "0123456789":
        candidate = body + digit
        total = 0
        for i, ch in enumerate(reversed(candidate)):
            n = int(ch) * (2 if i % 2 else 1)
            total += n - 9 if n > 9 else n
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable")


def generate(gazetteer: Gazetteer, count: int = 3000, seed: int = 7) -> list[dict[str, Any]]:
    """``count`` import records (the importer's column layout), ~55% in the urban areas."""
    rng = random.Random(seed)
    places = gazetteer.places("FR")
    weights = [pop for *_, pop in CITIES]  # workshops follow the cars, and cars the people
    near: dict[str, list[tuple[str, str, float, float]]] = {}
    for name, lat, lng, pop in CITIES:
        radius = 8 + math.sqrt(pop) / 3  # Paris ~43 km, Annecy ~13 km
        box = radius / 111.0 * 1.5  # a cheap square first, the distance only inside it
        near[name] = [
            p
            for p in places
            if abs(p[2] - lat) < box
            and abs(p[3] - lng) < box * 1.6
            and _km(lat, lng, p[2], p[3]) < radius
        ]
    records = []
    for n in range(count):
        if rng.random() < 0.55:  # these urban areas hold a little over half the population
            city = rng.choices(CITIES, weights=weights)[0][0]
            postcode, commune, lat, lng = rng.choice(near[city])
        else:
            postcode, commune, lat, lng = rng.choice(places)
        # Spread workshops around the commune's centre rather than stacking them on one point.
        lat += rng.gauss(0, 0.008)
        lng += rng.gauss(0, 0.011)
        kind = rng.choice(KINDS)
        surname = rng.choice(SURNAMES)
        name = f"{rng.choice(PREFIXES)} {surname}"
        brands = (
            ["all"]
            if kind == "independent" and rng.random() < 0.5
            else sorted(rng.sample(BRANDS, rng.randint(1, 4 if kind != "dealer" else 2)))
        )
        powertrains = ["ice", "hev"] + (["phev", "bev"] if rng.random() < 0.45 else [])
        records.append(
            {
                "external_id": f"demo-{n:05d}",
                "organisation_legal_name": f"{name} SARL (démo)",
                "organisation_trade_name": f"{name} (démo)",
                "organisation_kind": kind,
                "siren": _luhn_complete(f"9{n:07d}"),
                "name": f"{name} – {commune.title()} (démo)",
                "street": f"{rng.randint(1, 180)} rue {rng.choice(STREETS)}",
                "postcode": postcode,
                "city": commune.title(),
                "country": "FR",
                "lat": round(lat, 6),
                "lng": round(lng, 6),
                "timezone": "Europe/Paris",
                "opening_hours": rng.choice(HOURS) + "; PH off",
                # ARCEP keeps 01 99 00 xx xx … for fiction: these numbers reach nobody.
                "phone": f"+33199{rng.randint(0, 9999):06d}"[:12],
                "email": f"contact@demo-{n:05d}.invalid",
                "brands": brands,
                "vehicles": ["car", "van"] if rng.random() < 0.6 else ["car"],
                "powertrains": powertrains,
                "services": sorted(rng.sample(SERVICES, rng.randint(3, 9))),
                "languages": ["fr"] + (["en"] if rng.random() < 0.3 else []),
            }
        )
    return records


# --- competences ----------------------------------------------------------------------------------

DEMO_ISSUERS = [
    (
        "Organisme de formation (démo)",
        "training-body",
        [
            "fr.nfc18550.b0l",
            "fr.nfc18550.b1l",
            "fr.nfc18550.b2l",
            "fr.nfc18550.b1vl",
            "fr.nfc18550.b2vl",
            "fr.nfc18550.bcl",
            "fr.nfc18550.brl",
            "fr.nfc18550.b2xl",
            "eu.fgas.mac-person",
            "adas.calibration.person",
        ],
    ),
    (
        "Organisme certificateur (démo)",
        "certification-body",
        [
            "eu.sermi.operator",
            "eu.sermi.employee",
            "fr.fgas.capacite-v",
            "adas.calibration.static",
            "diag.multibrand",
        ],
    ),
    (
        "Constructeur (démo)",
        "carmaker",
        [
            "oem.renault.authorised",
            "oem.renault.ev",
            "oem.stellantis.authorised",
            "oem.stellantis.ev",
            "oem.volkswagen.authorised",
            "oem.volkswagen.ev",
            "diag.oem-tools",
            "adas.calibration.dynamic",
        ],
    ),
]
HV_LEVELS = [
    "fr.nfc18550.b1vl",
    "fr.nfc18550.b2vl",
    "fr.nfc18550.b2xl",
    "fr.nfc18550.bcl",
    "fr.nfc18550.b1l",
    "fr.nfc18550.brl",
]
BRAND_PROGRAMMES = {
    "renault": "renault",
    "dacia": "renault",
    "peugeot": "stellantis",
    "citroen": "stellantis",
    "opel": "stellantis",
    "fiat": "stellantis",
    "ds": "stellantis",
    "volkswagen": "volkswagen",
    "audi": "volkswagen",
    "skoda": "volkswagen",
    "seat": "volkswagen",
}


def _demo_key(folder: Path, slug: str) -> dict[str, str]:
    """Each demo issuer's private key lives in the data dir (never in the repo), owner-only."""
    path = folder / f"{slug}.jwk"
    if path.exists():
        return dict(json.loads(path.read_text()))
    folder.mkdir(parents=True, exist_ok=True)
    key = jws.generate_jwk(f"{slug}-1")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(key, fh)
    return key


def load_competences(
    sessions: sessionmaker[Session], catalogue: Catalogue, key_dir: Path, seed: int = 7
) -> int:
    """Demo issuers attest a realistic share of demo sites; some expire soon, some are declared
    only. Every token is signed and verified for real. Returns the attestations stored."""
    rng = random.Random(seed)
    now = int(time.time())
    with transaction(sessions) as s:
        if s.scalar(select(func.count()).select_from(Issuer).where(Issuer.name.like("%(démo)"))):
            return 0
        issuers: dict[str, tuple[str, dict[str, str]]] = {}
        for name, kind, schemes in DEMO_ISSUERS:
            key = _demo_key(key_dir, kind)
            issuer = trust.create_issuer(
                s, catalogue, name=name, kind=kind, schemes=schemes, jwks=[jws.public_jwk(key)]
            )
            trust.set_issuer_status(s, issuer.id, "trusted")
            for scheme in schemes:
                issuers[scheme] = (issuer.id, key)
        sites = s.execute(
            select(Site.id, Site.brands, Organisation.kind)
            .join(Organisation)
            .where(Site.source == SOURCE)
            .order_by(Site.external_id)
        ).all()

    def attest(s: Session, sub: str, scheme: str) -> None:
        iss, key = issuers[scheme]
        days = catalogue.schemes[scheme].default_validity_days or 1826
        roll = rng.random()
        if roll < 0.08:  # expires within the next three weeks: renewals are due
            exp = now + rng.randint(2, 21) * 86400
        else:
            exp = now + rng.randint(30, days) * 86400
        iat = max(exp - days * 86400, now - 3 * 365 * 86400)
        token = jws.sign(
            {
                "iss": iss,
                "sub": sub,
                "scheme": scheme,
                "iat": iat,
                "nbf": iat,
                "exp": exp,
                "jti": f"demo-{secrets.token_hex(10)}",
            },
            key,
        )
        trust.submit_attestation(s, catalogue, token)

    stored = 0
    with transaction(sessions) as s:
        for site_id, brands, kind in sites:
            roll = rng.random()
            if roll < 0.45:
                for _ in range(rng.randint(1, 2)):
                    tech = Technician(site_id=site_id, display_name=rng.choice(FIRST_NAMES))
                    s.add(tech)
                    s.flush()
                    attest(s, tech.id, rng.choice(HV_LEVELS))
                    stored += 1
            if rng.random() < 0.15:
                attest(s, site_id, "eu.sermi.operator")
                stored += 1
            if rng.random() < 0.35:
                attest(s, site_id, "fr.fgas.capacite-v")
                stored += 1
            if rng.random() < 0.15:
                attest(s, site_id, "adas.calibration.static")
                stored += 1
            if kind == "dealer":
                programme = next(
                    (BRAND_PROGRAMMES[b] for b in brands if b in BRAND_PROGRAMMES), None
                )
                if programme:
                    level = "ev" if rng.random() < 0.4 else "authorised"
                    attest(s, site_id, f"oem.{programme}.{level}")
                    stored += 1
            if rng.random() < 0.1:
                s.add(
                    Claim(
                        site_id=site_id,
                        scheme=rng.choice(
                            ["adas.calibration.static", "diag.multibrand", "fr.fgas.capacite-v"]
                        ),
                    )
                )
    return stored


FIRST_NAMES = [
    "Camille",
    "Lucas",
    "Léa",
    "Hugo",
    "Manon",
    "Nathan",
    "Chloé",
    "Théo",
    "Inès",
    "Karim",
    "Sofia",
    "Julien",
    "Yanis",
    "Emma",
]
