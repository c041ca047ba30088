"""schema.org JSON-LD of a public site profile (AutoRepair, or AutoDealer for dealers)."""

from __future__ import annotations

from typing import Any

from directory.profiles.schemas import SiteOut

MEDIA_TYPE = "application/ld+json"


def site_jsonld(site: SiteOut) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "AutoDealer" if site.kind == "dealer" else "AutoRepair",
        "@id": site.url,
        "name": site.name,
        "address": {
            k: v
            for k, v in {
                "@type": "PostalAddress",
                "streetAddress": site.address.street,
                "postalCode": site.address.postcode,
                "addressLocality": site.address.city,
                "addressCountry": site.address.country,
            }.items()
            if v is not None
        },
        "geo": {
            "@type": "GeoCoordinates",
            "latitude": site.location.lat,
            "longitude": site.location.lng,
        },
    }
    optional = {
        "telephone": site.phone,
        "email": site.email,
        "url": site.website,
        # schema.org's openingHours text shares OSM's simple "Mo-Fr 08:00-18:00" form.
        "openingHours": site.opening_hours,
        "brand": [{"@type": "Brand", "name": b} for b in site.brands if b != "all"] or None,
        "knowsLanguage": site.languages or None,
        "hasCredential": [
            {
                "@type": "EducationalOccupationalCredential",
                "name": c.name,
                "identifier": c.scheme,
                "validUntil": c.valid_until,
            }
            for c in site.competences
            if c.status == "verified"
        ]
        or None,
    }
    doc.update({k: v for k, v in optional.items() if v is not None})
    return doc
