"""The competence engine: the catalogue, attestation verification against tampering, and the
effective set of a site."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from certifications import jws
from certifications.attestations import reverify
from certifications.catalogue import FOLDER, CatalogueError, default_catalogue, load_catalogue
from certifications.competences import Holding, effective_competences
from directory.db import transaction
from directory.errors import DomainError
from directory.models import Technician
from directory.trust import service as trust
from tests.conftest import bare_site

NOW = datetime.now(UTC).replace(microsecond=0)
T0 = int(NOW.timestamp())


# --- catalogue ------------------------------------------------------------------------------------


def test_the_catalogue_loads_with_every_family_the_field_needs() -> None:
    cat = default_catalogue()
    domains = {s.domain for s in cat.schemes.values()}
    assert {
        "ev-high-voltage",
        "security-rmi",
        "air-conditioning",
        "adas",
        "diagnostics",
        "oem",
    } <= domains
    for sid in (
        "fr.nfc18550.b2vl",
        "eu.sermi.operator",
        "eu.sermi.employee",
        "fr.fgas.capacite-v",
        "uk.imi.ev.level4",
        "us.ase.l3",
    ):
        assert sid in cat
    assert cat.schemes["eu.sermi.operator"].holder == "site"
    assert cat.schemes["fr.nfc18550.b1l"].default_validity_days == 1095


def test_implications_are_acyclic_and_transitive() -> None:
    cat = default_catalogue()
    for sid in cat.schemes:
        closure = cat.implied_by(sid)
        assert sid in closure
        for implied in closure - {sid}:
            assert sid not in cat.implied_by(implied), f"{sid} and {implied} imply each other"
            assert cat.implied_by(implied) <= closure
    assert "fr.nfc18550.b0l" in cat.implied_by("fr.nfc18550.b2tl")
    assert cat.satisfying("fr.nfc18550.b1vl") == {
        "fr.nfc18550.b1vl",
        "fr.nfc18550.b2vl",
        "fr.nfc18550.b1tl",
        "fr.nfc18550.b2tl",
    }


def _broken(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "catalogue"
    shutil.copytree(FOLDER, folder)
    (folder / "zz_broken.toml").write_text(text)
    return folder


SCHEME = """family = "zz"
[[schemes]]
id = "zz.{id}"
name = {{ fr = "x", en = "x" }}
domain = "adas"
holder = "site"
jurisdictions = ["FR"]
issuer_kinds = ["carmaker"]
basis = "test"
{extra}
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (SCHEME.format(id="a", extra='colour = "red"'), "unknown field `colour`"),
        (SCHEME.format(id="a", extra='implies = ["zz.nowhere"]'), "implies unknown scheme"),
        (
            SCHEME.format(id="a", extra='implies = ["zz.b"]')
            + SCHEME.format(id="b", extra='implies = ["zz.a"]').split("\n", 1)[1],
            "cycle in implies",
        ),
        (
            SCHEME.format(id="a", extra="") + SCHEME.format(id="a", extra="").split("\n", 1)[1],
            "defined twice",
        ),
        (SCHEME.format(id="a", extra='implies = ["fr.nfc18550.b0l"]'), "held by another kind"),
    ],
)
def test_a_broken_catalogue_is_refused_with_a_clear_message(tmp_path, text, message) -> None:
    with pytest.raises(CatalogueError, match=message):
        load_catalogue(_broken(tmp_path, text))


# --- effective competences ------------------------------------------------------------------------


def holding(scheme: str, until: datetime | None, status: str = "verified", **kw) -> Holding:
    return Holding(
        scheme=scheme,
        status=status,
        holder_id=kw.get("holder", "tc_1"),  # type: ignore[arg-type]
        issuer=kw.get("issuer", "is_1"),
        source=kw.get("source", scheme),
        valid_from=kw.get("since", NOW - timedelta(days=10)),
        valid_until=until,
    )


def test_a_higher_level_brings_the_lower_ones_until_its_own_end() -> None:
    end = NOW + timedelta(days=30)
    got = {
        e.scheme: e
        for e in effective_competences([holding("fr.nfc18550.b2vl", end)], default_catalogue(), NOW)
    }
    assert set(got) == {
        "fr.nfc18550.b2vl",
        "fr.nfc18550.b2l",
        "fr.nfc18550.b1vl",
        "fr.nfc18550.b1l",
        "fr.nfc18550.b0l",
    }
    assert got["fr.nfc18550.b1l"].valid_until == end and got["fr.nfc18550.b1l"].via == (
        "fr.nfc18550.b2vl"
    )


def test_an_expiry_ends_the_competence_at_that_exact_instant() -> None:
    end = NOW + timedelta(hours=1)
    cat = default_catalogue()
    held = [holding("eu.sermi.operator", end, holder="st_1")]
    assert effective_competences(held, cat, end - timedelta(microseconds=1))
    assert effective_competences(held, cat, end) == []


def test_verified_beats_declared_and_the_longest_source_wins() -> None:
    cat = default_catalogue()
    soon, later = NOW + timedelta(days=1), NOW + timedelta(days=300)
    got = effective_competences(
        [
            holding("adas.calibration.static", None, status="declared", source="claim"),
            holding("adas.calibration.static", soon, source="a"),
            holding("adas.calibration.static", later, source="b"),
        ],
        cat,
        NOW,
    )
    assert [(e.status, e.source, e.valid_until) for e in got] == [("verified", "b", later)]
    declared_only = effective_competences(
        [holding("diag.multibrand", None, status="declared")], cat, NOW, include_declared=False
    )
    assert declared_only == []


# --- attestations against tampering ---------------------------------------------------------------


@pytest.fixture()
def world(sessions):  # type: ignore[no-untyped-def]
    """A site with a technician, a trusted issuer, a pending one and a suspended one."""
    cat = default_catalogue()
    keys = {name: jws.generate_jwk(f"{name}-1") for name in ("trusted", "pending", "suspended")}
    with transaction(sessions) as s:
        org, site = bare_site("G")
        tech = Technician(site_id=site.id, display_name="Alex")
        s.add_all([org, site])
        s.flush()
        s.add(tech)
        issuers = {}
        for name, key in keys.items():
            issuer = trust.create_issuer(
                s,
                cat,
                name=f"{name} body",
                kind="training-body",
                schemes=["fr.nfc18550.b2vl", "fr.nfc18550.b1l"],
                jwks=[jws.public_jwk(key)],
            )
            if name != "pending":
                trust.set_issuer_status(s, issuer.id, "trusted")
            issuers[name] = issuer.id
        trust.set_issuer_status(s, issuers["suspended"], "suspended")
    return {"site": site.id, "tech": tech.id, "keys": keys, "issuers": issuers, "cat": cat}


def claims(w, **over) -> dict:  # type: ignore[no-untyped-def]
    base = {
        "iss": w["issuers"]["trusted"],
        "sub": w["tech"],
        "scheme": "fr.nfc18550.b2vl",
        "iat": T0 - 60,
        "nbf": T0 - 60,
        "exp": T0 + 86400 * 365,
        "jti": "att_" + random.getrandbits(64).to_bytes(8, "big").hex(),
    }
    base.update(over)
    return base


def _b64(obj: dict) -> str:
    return jws.b64url_encode(json.dumps(obj).encode())


def submit(sessions, w, token: str):  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        return trust.submit_attestation(s, w["cat"], token)


def refusal(sessions, w, token: str) -> str:
    try:
        submit(sessions, w, token)
    except DomainError as err:
        return str(err.extra.get("reason"))
    raise AssertionError("a tampered token was accepted")


def _flip(token: str, rng: random.Random) -> str:
    part = rng.randrange(3)
    pieces = token.split(".")
    text = pieces[part]
    i = rng.randrange(len(text))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    pieces[part] = text[:i] + rng.choice(alphabet.replace(text[i], "")) + text[i + 1 :]
    return ".".join(pieces)


def test_a_thousand_tampered_tokens_are_refused_and_the_originals_verify(sessions, world) -> None:
    w, rng = world, random.Random(20261122)
    key = w["keys"]["trusted"]
    originals = [jws.sign(claims(w), key) for _ in range(20)]
    for token in originals:
        assert submit(sessions, w, token).scheme == "fr.nfc18550.b2vl"
    revoked = originals[0]
    with transaction(sessions) as s:
        jti = json.loads(base64.urlsafe_b64decode(revoked.split(".")[1] + "=="))["jti"]
        trust.revoke_attestation(
            s, jti, jws.sign({"iss": w["issuers"]["trusted"], "revokes": jti, "iat": T0}, key)
        )

    def case(kind: str) -> tuple[str, set[str]]:
        good = claims(w)
        if kind == "flip":
            return _flip(jws.sign(good, key), rng), {
                "bad-signature",
                "malformed",
                "unknown-issuer",
                "unknown-key",
                "unsupported-alg",
            }
        if kind == "other-subject":
            header, _, sig = jws.sign(good, key).split(".")
            return f"{header}.{_b64(dict(good, sub=w['site']))}.{sig}", {"bad-signature"}
        if kind == "alg-none":
            return f"{_b64({'alg': 'none', 'kid': 'trusted-1'})}.{_b64(good)}.", {"unsupported-alg"}
        if kind == "hs256-public-key":
            signing = f"{_b64({'alg': 'HS256', 'kid': 'trusted-1'})}.{_b64(good)}"
            secret = jws.public_jwk(key)["x"].encode()
            mac = hmac.new(secret, signing.encode(), hashlib.sha256).digest()
            return f"{signing}.{jws.b64url_encode(mac)}", {"unsupported-alg"}
        if kind == "expired":
            return jws.sign(dict(good, iat=T0 - 900, nbf=T0 - 900, exp=T0 - 1), key), {"expired"}
        if kind == "not-yet-valid":
            return jws.sign(dict(good, nbf=T0 + 86400), key), {"not-yet-valid"}
        if kind == "untrusted":
            return jws.sign(dict(good, iss=w["issuers"]["pending"]), w["keys"]["pending"]), {
                "issuer-pending"
            }
        if kind == "suspended":
            return jws.sign(dict(good, iss=w["issuers"]["suspended"]), w["keys"]["suspended"]), {
                "issuer-suspended"
            }
        if kind == "scheme-not-allowed":
            return jws.sign(dict(good, scheme="fr.nfc18550.b2tl"), key), {"scheme-not-allowed"}
        if kind == "wrong-holder":
            return jws.sign(dict(good, sub=w["site"]), key), {"wrong-holder"}
        if kind == "revoked":
            return revoked, {"replayed"}
        if kind == "replayed-jti":
            return jws.sign(dict(good, jti=jti), key), {"replayed"}
        raise AssertionError(kind)

    kinds = [
        "flip",
        "other-subject",
        "alg-none",
        "hs256-public-key",
        "expired",
        "not-yet-valid",
        "untrusted",
        "suspended",
        "scheme-not-allowed",
        "wrong-holder",
        "revoked",
        "replayed-jti",
    ]
    seen: dict[str, int] = {}
    for i in range(1000):
        kind = kinds[i % len(kinds)]
        token, expected = case(kind)
        reason = refusal(sessions, w, token)
        assert reason in expected, (kind, reason)
        seen[kind] = seen.get(kind, 0) + 1
    assert set(seen) == set(kinds) and sum(seen.values()) == 1000

    # The untouched originals still verify against the published keys after a rotation, and
    # the retired key signs nothing new.
    new_key = jws.generate_jwk("trusted-2")
    with transaction(sessions) as s:
        issuer = trust.add_issuer_key(s, w["issuers"]["trusted"], jws.public_jwk(new_key))
        published = [k.jwk for k in issuer.keys]
    for token in originals:
        assert reverify(token, published).iss == w["issuers"]["trusted"]
    after_rotation = int(time.time()) + 30  # within the clock-skew leeway
    later = claims(w, iat=after_rotation, nbf=after_rotation)
    assert refusal(sessions, w, jws.sign(later, key)) == "key-retired"
    assert submit(sessions, w, jws.sign(claims(w), new_key)).kid == "trusted-2"


def test_a_retired_key_cannot_sign_by_backdating_iat_before_the_rotation(sessions, world) -> None:
    w = world
    key = w["keys"]["trusted"]
    kept = submit(sessions, w, jws.sign(claims(w), key))  # received before the rotation
    with transaction(sessions) as s:
        trust.add_issuer_key(s, w["issuers"]["trusted"], jws.public_jwk(jws.generate_jwk("t-2")))
    # Signed "before" the rotation by whoever holds the leaked key, received after it.
    backdated = claims(w, iat=T0 - 86400 * 30, nbf=T0 - 86400 * 30)
    assert refusal(sessions, w, jws.sign(backdated, key)) == "key-retired"
    revocation = jws.sign(
        {"iss": w["issuers"]["trusted"], "revokes": kept.jti, "iat": T0 - 86400}, key
    )
    with transaction(sessions) as s, pytest.raises(DomainError) as refused:
        trust.revoke_attestation(s, kept.jti, revocation)
    assert refused.value.extra.get("reason") == "key-retired"
    with transaction(sessions) as s:
        assert trust.get_attestation(s, kept.jti).revoked_at is None  # what it signed stands


def test_validity_may_start_before_the_signature(sessions, world) -> None:
    w = world
    granted = T0 - 86400 * 30  # the habilitation was granted last month, attested today
    att = submit(sessions, w, jws.sign(claims(w, iat=T0 - 60, nbf=granted), w["keys"]["trusted"]))
    assert int(att.valid_from.timestamp()) == granted
    assert int(att.issued_at.timestamp()) == T0 - 60
    inverted = claims(w, nbf=T0 + 86400, exp=T0 + 3600)
    assert refusal(sessions, w, jws.sign(inverted, w["keys"]["trusted"])) == "malformed"


def _signed_with_header(payload: dict, private: dict, header: dict) -> str:
    """A token signed with ``private`` under any header: signed by hand, since a JOSE library
    refuses to write the headers an attacker would."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    signing_input = f"{_b64(header)}.{_b64(payload)}"
    key = Ed25519PrivateKey.from_private_bytes(jws.b64url_decode(private["d"]))
    return f"{signing_input}.{jws.b64url_encode(key.sign(signing_input.encode()))}"


def test_both_names_of_ed25519_are_accepted_and_the_header_cannot_choose_the_key(
    sessions, world
) -> None:
    w, key = world, world["keys"]["trusted"]
    assert (
        json.loads(base64.urlsafe_b64decode(jws.sign(claims(w), key).split(".")[0] + "=="))["alg"]
        == "Ed25519"
    )  # what our own tools sign (RFC 9864)
    legacy = _signed_with_header(claims(w), key, {"alg": "EdDSA", "kid": "trusted-1"})
    assert submit(sessions, w, legacy).scheme == "fr.nfc18550.b2vl"  # what issuers sent in wave 1
    # The algorithm name is in the signed header: renaming it breaks the signature.
    header, body, sig = jws.sign(claims(w), key).split(".")
    renamed = f"{_b64({'alg': 'EdDSA', 'kid': 'trusted-1', 'typ': 'JWT'})}.{body}.{sig}"
    assert refusal(sessions, w, renamed) == "bad-signature"
    # A token that carries its own key (signed by that key) or points at one is never checked
    # against it.
    mine = jws.generate_jwk("trusted-1")
    for extra in (
        {"jwk": jws.public_jwk(mine)},
        {"jku": "https://attacker.example/jwks.json"},
        {"x5u": "https://attacker.example/cert.pem"},
        {"crit": ["exp"], "exp": T0 + 60},
    ):
        forged = {"alg": "Ed25519", "kid": "trusted-1", **extra}
        token = _signed_with_header(claims(w), mine, forged)
        assert refusal(sessions, w, token) == "malformed", extra


_JOB = '[[jobs]]\nid = "x"\ndomain = "adas"\nname = {fr = "a", en = "b"}\n'
_DIAG = 'any_of = ["diag.multibrand"]\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_JOB + 'any_of = ["no.such"]\n', "unknown schemes: no.such"),
        (_JOB + _DIAG + _JOB + _DIAG, "defined twice"),
        (_JOB + _DIAG + "colour = 1\n", "colour"),
        (_JOB.replace(', en = "b"', "") + _DIAG, "en"),
    ],
)
def test_a_broken_jobs_list_is_refused_with_a_clear_message(tmp_path, text, message) -> None:
    from certifications.jobs import load_jobs

    path = tmp_path / "jobs.toml"
    path.write_text(text)
    with pytest.raises(CatalogueError, match=message):
        load_jobs(path)


def test_the_shipped_jobs_name_real_schemes_in_both_languages() -> None:
    from certifications.jobs import default_jobs

    jobs = list(default_jobs())
    assert len(jobs) >= 7 and {j.domain for j in jobs} >= {"ev-high-voltage", "adas", "diagnostics"}
    assert all(j.name.fr != j.name.en for j in jobs)
