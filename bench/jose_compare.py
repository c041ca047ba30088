"""Attestation signature checks: ours (certifications/jws.py, strict parsing over cryptography's
Ed25519) beside joserfc's deserialize_compact, on the same tokens and key. joserfc is not a
dependency of the project; run this with it added for the run only:

    .tools/bin/uv run --with joserfc==1.8.0 python bench/jose_compare.py

Writes bench/results/jose_compare.json.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from joserfc import jws as joserfc_jws  # noqa: E402
from joserfc.jwk import OKPKey  # noqa: E402

from certifications import jws  # noqa: E402


def main() -> None:
    # joserfc 1.8 warns on every EdDSA check (RFC 9864 deprecates the name for "Ed25519").
    warnings.simplefilter("ignore")
    private = jws.generate_jwk("bench")
    public = jws.public_jwk(private)
    tokens = [jws.sign({"iss": "is_x", "sub": "st_y", "n": i}, private) for i in range(5000)]
    key = OKPKey.import_key(public)
    checks = {
        "ours": lambda t: jws.verify_signature(*jws.parse(t)[2:], public),
        "joserfc": lambda t: joserfc_jws.deserialize_compact(t, key, algorithms=["EdDSA"]),
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
