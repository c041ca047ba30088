"""Attestation verification throughput: the pure check (signature, issuer, scheme, dates), and
the full submission (check + replay test + store) on a fresh SQLite database.

    .venv/bin/python bench/verify_throughput.py --tokens 20000

Writes bench/results/verify_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from certifications import jws
from certifications.attestations import IssuerKey, IssuerView, verify_attestation
from certifications.catalogue import default_catalogue
from directory.db import make_engine, transaction, upgrade
from directory.models import Organisation, Site
from directory.outbox.hooks import make_sessionmaker
from directory.trust import service as trust

RESULTS = Path(__file__).parent / "results" / "verify_throughput.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tokens", type=int, default=20_000)
    args = parser.parse_args()
    catalogue = default_catalogue()
    key = jws.generate_jwk("bench-1")
    now = int(time.time())
    issuer = IssuerView(
        id="is_bench",
        kind="certification-body",
        status="trusted",
        schemes=("eu.sermi.operator",),
        keys=(IssuerKey("bench-1", jws.public_jwk(key)),),
    )
    tokens = [
        jws.sign(
            {
                "iss": "is_bench",
                "sub": "st_bench",
                "scheme": "eu.sermi.operator",
                "iat": now,
                "nbf": now,
                "exp": now + 86400,
                "jti": f"bench-{i:08d}",
            },
            key,
        )
        for i in range(args.tokens)
    ]
    at = datetime.now(UTC)
    started = time.perf_counter()
    for token in tokens:
        verify_attestation(token, {"is_bench": issuer}.get, catalogue, at)
    pure_s = time.perf_counter() - started

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        sessions = make_sessionmaker(make_engine(url))
        with transaction(sessions) as s:
            org = Organisation(legal_name="Bench", kind="independent")
            site = Site(
                organisation=org,
                name="Bench",
                city="Lyon",
                country="FR",
                lat=45.7,
                lng=4.8,
                timezone="Europe/Paris",
            )
            s.add_all([org, site])
            registered = trust.create_issuer(
                s,
                catalogue,
                name="Bench",
                kind="certification-body",
                schemes=["eu.sermi.operator"],
                jwks=[jws.public_jwk(key)],
            )
            trust.set_issuer_status(s, registered.id, "trusted")
        stored_tokens = [
            jws.sign(
                {
                    "iss": registered.id,
                    "sub": site.id,
                    "scheme": "eu.sermi.operator",
                    "iat": now,
                    "nbf": now,
                    "exp": now + 86400,
                    "jti": f"bench-{i:08d}",
                },
                key,
            )
            for i in range(min(args.tokens, 5000))
        ]
        started = time.perf_counter()
        for token in stored_tokens:
            with transaction(sessions) as s:  # one transaction each, as the API does
                trust.submit_attestation(s, catalogue, token)
        submit_s = time.perf_counter() - started

    results = {
        "pure_verifications": args.tokens,
        "pure_per_s": round(args.tokens / pure_s, 1),
        "submissions_sqlite": len(stored_tokens),
        "submissions_per_s_sqlite": round(len(stored_tokens) / submit_s, 1),
    }
    print(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
