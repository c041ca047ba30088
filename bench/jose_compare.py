"""Attestation signature checks: what the service runs (certifications/jws.py: joserfc with our
header policy) beside joserfc's bare ``deserialize_compact`` and the Ed25519 primitive alone on a
pre-split token (the floor: no parsing at all), on the same tokens and key.

    .venv/bin/python bench/jose_compare.py

Writes bench/results/jose_compare.json. Before the switch to joserfc (session 3), the same
machine measured our hand-written parser at 5,712/s against joserfc's 5,937/s.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey  # noqa: E402
from joserfc import jws as joserfc_jws  # noqa: E402
from joserfc.jwk import OKPKey  # noqa: E402

from certifications import jws  # noqa: E402


def main() -> None:
    private = jws.generate_jwk("bench")
    public = jws.public_jwk(private)
    tokens = [jws.sign({"iss": "is_x", "sub": "st_y", "n": i}, private) for i in range(5000)]
    key = OKPKey.import_key(public)
    raw = Ed25519PublicKey.from_public_bytes(jws.b64url_decode(public["x"]))
    split = {t: t.rsplit(".", 1) for t in tokens}
    split = {t: (head.encode(), jws.b64url_decode(sig)) for t, (head, sig) in split.items()}
    checks = {
        "atelier (joserfc + policy)": lambda t: jws.verify(jws.parse(t), public),
        "joserfc deserialize_compact": lambda t: joserfc_jws.deserialize_compact(
            t, key, algorithms=["Ed25519"]
        ),
        "Ed25519 primitive only": lambda t: raw.verify(split[t][1], split[t][0]),
    }
    result = {}
    for name, check in checks.items():
        for token in tokens[:200]:
            check(token)
        best = min(_timed(check, tokens) for _ in range(3))
        result[name] = round(len(tokens) / best)
        print(f"{name}: {result[name]:,} verifications/s (best of 3)")
    out = Path(__file__).parent / "results" / "jose_compare.json"
    out.write_text(json.dumps(result, indent=1) + "\n")


def _timed(check, tokens) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    for token in tokens:
        check(token)
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
