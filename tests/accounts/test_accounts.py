"""Repairer accounts: sign-up, verification, sessions (bearer and cookie + CSRF), roles,
invitations and listing claims, against the real database."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from litestar.testing import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from directory.accounts import service as accounts
from directory.cli import main as cli
from directory.db import transaction, utcnow
from directory.errors import InvalidInput
from directory.models import Account, AuthSession, Role
from directory.settings import Settings
from tests.conftest import ORG, PASSWORD, SITE, mailed_token, mails_to, table_snapshot


def _org(client: TestClient, headers: dict[str, str], siren: str = "552100554") -> dict:
    body = {**ORG, "identifiers": [{"scheme": "siren", "value": siren}]}
    reply = client.post("/v1/organisations", json=body, headers=headers)
    assert reply.status_code == 201, reply.text
    return reply.json()


def _site(client: TestClient, headers: dict[str, str], org_id: str) -> dict:
    reply = client.post(f"/v1/organisations/{org_id}/sites", json=SITE, headers=headers)
    assert reply.status_code == 201, reply.text
    return reply.json()


def _rename(client: TestClient, headers: dict[str, str], site: dict, name: str):
    current = client.get(f"/v1/sites/{site['id']}")
    return client.patch(
        f"/v1/sites/{site['id']}",
        json={"name": name},
        headers={**headers, "If-Match": current.headers["etag"]},
    )


def test_a_repairer_signs_up_verifies_logs_in_and_owns_what_it_creates(
    client: TestClient, settings: Settings, sessions: sessionmaker[Session]
) -> None:
    reply = client.post("/v1/auth/signup", json={"email": "Anne@Garage.FR", "password": PASSWORD})
    assert reply.status_code == 202
    # Nothing works before the address is confirmed.
    early = client.post("/v1/auth/login", json={"email": "anne@garage.fr", "password": PASSWORD})
    assert early.status_code == 403
    token = mailed_token(settings, "anne@garage.fr")
    # The message file shows the link whole (no quoted-printable folding) for whoever reads it.
    raw = b"".join(p.read_bytes() for p in (settings.data_dir / "mail").glob("*.eml"))
    assert f"token={token}".encode() in raw
    assert client.post("/v1/auth/verify", json={"token": token}).status_code == 200
    assert client.post("/v1/auth/verify", json={"token": token}).status_code == 400  # one use
    login = client.post("/v1/auth/login", json={"email": "ANNE@garage.fr", "password": PASSWORD})
    assert login.status_code == 200
    assert login.json()["token"].startswith("ats_")
    anne = {"Authorization": f"Bearer {login.json()['token']}"}

    org = _org(client, anne)
    site = _site(client, anne, org["id"])
    assert _rename(client, anne, site, "Garage Anne").status_code == 200
    me = client.get("/v1/auth/me", headers=anne).json()
    assert me["email"] == "anne@garage.fr"
    assert me["organisations"] == [{"organisation_id": org["id"], "role": "owner"}]
    with sessions() as session:
        account = session.scalars(select(Account)).one()
        # Only an argon2id hash is stored; the session token only as a SHA-256.
        assert account.password_hash.startswith("$argon2id$")
        assert PASSWORD not in account.password_hash
        stored = session.scalars(select(AuthSession.token_hash)).one()
        assert stored == accounts.digest(login.json()["token"])


def test_wrong_passwords_and_unknown_addresses_get_the_same_answer(
    client: TestClient, repairer
) -> None:
    repairer("bob@garage.fr")
    wrong = client.post("/v1/auth/login", json={"email": "bob@garage.fr", "password": "nope" * 4})
    unknown = client.post("/v1/auth/login", json={"email": "who@garage.fr", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    # The right password with anything after it is a wrong password.
    padded = {"email": "bob@garage.fr", "password": PASSWORD + "x" * 200}
    assert client.post("/v1/auth/login", json=padded).status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]
    # Sign-up does not reveal registered addresses either.
    again = client.post("/v1/auth/signup", json={"email": "bob@garage.fr", "password": PASSWORD})
    fresh = client.post("/v1/auth/signup", json={"email": "new@garage.fr", "password": PASSWORD})
    assert again.status_code == fresh.status_code == 202
    assert again.json() == fresh.json()


def test_weak_passwords_are_refused_with_a_pointer(client: TestClient) -> None:
    for weak in ["short", "Password1234", "azertyuiop123", "aaaaaaaaaaaaaaaa", "x" * 129]:
        reply = client.post("/v1/auth/signup", json={"email": "c@garage.fr", "password": weak})
        assert reply.status_code == 400, weak
        assert reply.json()["errors"][0]["pointer"] == "/password"
    # The address itself as a password is as weak as it gets.
    reply = client.post(
        "/v1/auth/signup",
        json={"email": "jean.dupont@garage.fr", "password": "jean.dupont@garage.fr"},
    )
    assert reply.status_code == 400


@given(st.text(max_size=11))
def test_any_password_shorter_than_the_minimum_is_refused(password: str) -> None:
    with pytest.raises(InvalidInput):
        accounts.check_password(password, "a@b.fr")


@given(st.emails())
def test_address_normalisation_is_idempotent_and_case_blind(address: str) -> None:
    try:
        once = accounts.normalise_email(address)
    except InvalidInput:
        return  # hypothesis' emails include forms we refuse (e.g. quoted local parts)
    assert accounts.normalise_email(once) == once
    assert accounts.normalise_email(address.upper()) == once


def test_registering_someone_elses_address_first_does_not_keep_the_account(
    client: TestClient, settings: Settings
) -> None:
    # An attacker signs up with the victim's address; the victim later signs up too and
    # follows the link in their own mailbox: the password that counts is the victim's.
    client.post(
        "/v1/auth/signup", json={"email": "vic@garage.fr", "password": "attacker pass 99 zz"}
    )
    client.post("/v1/auth/signup", json={"email": "vic@garage.fr", "password": PASSWORD})
    attacker_token = re.search(r"token=(\S+)", mails_to(settings, "vic@garage.fr")[0]).group(1)  # type: ignore[union-attr]
    victim_token = mailed_token(settings, "vic@garage.fr")
    assert client.post("/v1/auth/verify", json={"token": victim_token}).status_code == 200
    # The attacker's link died with the verification, and their password does not work.
    assert client.post("/v1/auth/verify", json={"token": attacker_token}).status_code == 400
    bad = {"email": "vic@garage.fr", "password": "attacker pass 99 zz"}
    assert client.post("/v1/auth/login", json=bad).status_code == 401
    good = {"email": "vic@garage.fr", "password": PASSWORD}
    assert client.post("/v1/auth/login", json=good).status_code == 200


def test_logout_and_expiry_end_a_session_at_once(
    client: TestClient, repairer, sessions: sessionmaker[Session]
) -> None:
    anne = repairer("anne@garage.fr")
    assert client.get("/v1/auth/me", headers=anne).status_code == 200
    assert client.post("/v1/auth/logout", headers=anne).status_code == 204
    reply = client.get("/v1/auth/me", headers=anne)
    assert reply.status_code == 401
    assert reply.headers["www-authenticate"].startswith("Bearer")

    bob = repairer("bob@garage.fr")
    assert client.get("/v1/auth/me", headers=bob).status_code == 200
    with transaction(sessions) as session:
        session.execute(
            update(AuthSession)
            .where(AuthSession.revoked_at.is_(None))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert client.get("/v1/auth/me", headers=bob).status_code == 401


def test_cookie_sessions_need_the_csrf_token_for_every_change(
    client: TestClient, repairer, sessions: sessionmaker[Session]
) -> None:
    anne = repairer("anne@garage.fr")
    site = _site(client, anne, _org(client, anne)["id"])
    login = client.post(
        "/v1/auth/login", json={"email": "anne@garage.fr", "password": PASSWORD, "cookie": True}
    )
    assert login.status_code == 200
    set_cookie = login.headers["set-cookie"]
    for attribute in ("HttpOnly", "Secure", "SameSite=strict", "Path=/"):
        assert attribute.lower() in set_cookie.lower()
    assert "token" not in login.json()  # the cookie is the credential; scripts never see it
    value = re.search(r"atelier_session=([^;]+)", set_cookie).group(1)  # type: ignore[union-attr]
    cookie = {"Cookie": f"atelier_session={value}"}
    client.cookies.clear()
    # Reading needs no CSRF token; writing does, and a refused write changes nothing.
    assert client.get("/v1/auth/me", headers=cookie).status_code == 200
    before = table_snapshot(sessions)
    for csrf in (None, "forged-token"):
        headers = {**cookie, **({"X-CSRF-Token": csrf} if csrf else {})}
        reply = _rename(client, headers, site, "Forged")
        assert reply.status_code == 403, reply.text
        assert "csrf" in reply.json()["detail"].lower()
    assert table_snapshot(sessions) == before
    headers = {**cookie, "X-CSRF-Token": login.json()["csrf_token"]}
    assert _rename(client, headers, site, "Renamed by the web page").status_code == 200
    # Logging out through the cookie ends it too.
    assert client.post("/v1/auth/logout", headers=headers).status_code == 204
    assert client.get("/v1/auth/me", headers=cookie).status_code == 401
    # A stale cookie does not lock a visitor out of public pages; it never authorises a change.
    assert client.get(f"/v1/sites/{site['id']}", headers=cookie).status_code == 200
    assert _rename(client, headers, site, "Stale").status_code == 401


def test_owners_invite_editors_who_edit_but_do_not_govern(
    client: TestClient, repairer, settings: Settings, sessions: sessionmaker[Session]
) -> None:
    owner = repairer("owner@garage.fr")
    org = _org(client, owner)
    site = _site(client, owner, org["id"])
    # The address has no account yet: an invitation, granted when it verifies.
    reply = client.post(
        f"/v1/organisations/{org['id']}/members",
        json={"email": "ed@garage.fr", "role": "editor"},
        headers=owner,
    )
    assert reply.status_code == 201 and reply.json()["status"] == "invited"
    assert "invited" in mails_to(settings, "ed@garage.fr")[-1]
    editor = repairer("ed@garage.fr")
    assert _rename(client, editor, site, "Edited").status_code == 200
    # Editors do not add members nor close the organisation.
    before = table_snapshot(sessions)
    reply = client.post(
        f"/v1/organisations/{org['id']}/members",
        json={"email": "x@garage.fr", "role": "owner"},
        headers=editor,
    )
    assert reply.status_code == 403
    assert client.delete(f"/v1/organisations/{org['id']}", headers=editor).status_code == 403
    assert table_snapshot(sessions) == before
    members = client.get(f"/v1/organisations/{org['id']}/members", headers=editor).json()
    assert {(m["email"], m["role"]) for m in members["items"]} == {
        ("owner@garage.fr", "owner"),
        ("ed@garage.fr", "editor"),
    }
    # The last owner cannot leave nor be demoted; a removed editor loses access at once.
    me = client.get("/v1/auth/me", headers=owner).json()
    reply = client.delete(f"/v1/organisations/{org['id']}/members/{me['id']}", headers=owner)
    assert reply.status_code == 409
    ed = client.get("/v1/auth/me", headers=editor).json()
    reply = client.delete(f"/v1/organisations/{org['id']}/members/{ed['id']}", headers=owner)
    assert reply.status_code == 204
    assert _rename(client, editor, site, "Too late").status_code == 403


def test_another_repairer_cannot_touch_a_workshop_and_nothing_changes(
    client: TestClient, repairer, sessions: sessionmaker[Session]
) -> None:
    anne = repairer("anne@garage.fr")
    mallory = repairer("mallory@garage.fr")
    org = _org(client, anne)
    site = _site(client, anne, org["id"])
    before = table_snapshot(sessions)
    assert _rename(client, mallory, site, "Mine now").status_code == 403
    assert client.delete(f"/v1/sites/{site['id']}", headers=mallory).status_code == 403
    reply = client.post(f"/v1/organisations/{org['id']}/sites", json=SITE, headers=mallory)
    assert reply.status_code == 403
    reply = client.post(
        f"/v1/sites/{site['id']}/claims", json={"scheme": "fr.nfc18550.b2vl"}, headers=mallory
    )
    assert reply.status_code == 403
    # Privileged fields cannot be sent at all.
    for field, value in (("id", "st_x"), ("version", 9), ("organisation_id", "org_x")):
        current = client.get(f"/v1/sites/{site['id']}")
        reply = client.patch(
            f"/v1/sites/{site['id']}",
            json={field: value},
            headers={**anne, "If-Match": current.headers["etag"]},
        )
        assert reply.status_code == 400, field
    assert table_snapshot(sessions) == before
    # Unknown ids are 404 for everyone, not 403: nothing to learn from probing.
    reply = client.patch(
        "/v1/sites/st_doesnotexist", json={"name": "x"}, headers={**mallory, "If-Match": '"1"'}
    )
    assert reply.status_code == 404


def test_claiming_an_imported_listing_changes_nothing_until_an_administrator_approves(
    client: TestClient,
    repairer,
    admin: dict[str, str],
    settings: Settings,
    sessions: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    imported = _org(client, admin)  # created by an administrator: nobody owns it
    site = _site(client, admin, imported["id"])
    anne = repairer("anne@garage.fr")
    reply = client.post(
        f"/v1/organisations/{imported['id']}/claim",
        json={"message": "I run this garage, SIREN on the invoice attached"},
        headers=anne,
    )
    assert reply.status_code == 202 and reply.json()["status"] == "pending"
    assert _rename(client, anne, site, "Not yet").status_code == 403
    # Integrations and repairers cannot decide; an administrator lists and approves.
    claim_id = reply.json()["id"]
    assert client.post(f"/v1/listing-claims/{claim_id}/approve", headers=anne).status_code == 403
    listed = client.get("/v1/listing-claims", headers=admin).json()["items"]
    assert [(c["id"], c["email"]) for c in listed] == [(claim_id, "anne@garage.fr")]
    reply = client.post(
        f"/v1/listing-claims/{claim_id}/approve", json={"reason": "checked"}, headers=admin
    )
    assert reply.status_code == 200 and reply.json()["status"] == "approved"
    assert _rename(client, anne, site, "Garage Anne").status_code == 200
    assert "approved" in mails_to(settings, "anne@garage.fr")[-1]
    # Deciding twice is a conflict, not a silent repeat.
    again = client.post(f"/v1/listing-claims/{claim_id}/reject", headers=admin)
    assert again.status_code == 409

    # The same from the command line, for a second claimant who is rejected.
    bob = repairer("bob@garage.fr")
    claim = client.post(f"/v1/organisations/{imported['id']}/claim", json={}, headers=bob).json()
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ATELIER_DATA_DIR", str(settings.data_dir))
    runner = CliRunner()
    listing = runner.invoke(cli, ["claims", "list"])
    assert listing.exit_code == 0, listing.output
    assert claim["id"] in listing.output and "bob@garage.fr" in listing.output
    result = runner.invoke(cli, ["claims", "reject", claim["id"], "--reason", "not the owner"])
    assert result.exit_code == 0, result.output
    assert "rejected" in result.output
    result = runner.invoke(cli, ["claims", "approve", claim["id"]])
    assert result.exit_code != 0 and "already rejected" in result.output
    with sessions() as session:
        roles = session.scalars(select(Role).where(Role.organisation_id == imported["id"])).all()
        assert [r.role for r in roles] == ["owner"]  # Anne only


def test_a_revoked_key_stops_at_once(client: TestClient, make_key, sessions) -> None:
    headers = make_key("changes")
    # Keys are bearer credentials only: in a cookie one is no credential at all.
    as_cookie = {"Cookie": f"atelier_session={headers['Authorization'].split()[1]}"}
    assert client.get("/v1/changes", headers=as_cookie).status_code == 401
    assert client.get("/v1/changes", headers=headers).status_code == 200
    prefix = headers["Authorization"].split("_")[1]
    from directory.gate import keys

    with transaction(sessions) as session:
        keys.revoke_key(session, prefix)
    assert client.get("/v1/changes", headers=headers).status_code == 401
    # A malformed Authorization header is refused, not treated as anonymous.
    assert client.get("/v1/sites", headers={"Authorization": "Basic abc"}).status_code == 401


def test_an_organisation_reads_its_own_audit_trail_and_nobody_elses(
    client: TestClient, repairer, admin: dict[str, str]
) -> None:
    anne, bob = repairer("anne@garage.fr"), repairer("bob@garage.fr")
    mine = _org(client, anne)
    site = _site(client, anne, mine["id"])
    assert _rename(client, anne, site, "Garage Anne").status_code == 200
    theirs = _org(client, bob, siren="732829320")
    _site(client, bob, theirs["id"])
    anne_id = client.get("/v1/auth/me", headers=anne).json()["id"]

    trail = client.get("/v1/audit", params={"organisation": mine["id"]}, headers=anne)
    assert trail.status_code == 200, trail.text
    items = trail.json()["items"]
    assert {i["entity_id"] for i in items} >= {mine["id"], site["id"]}
    assert all(i["actor"]["kind"] == "account" and i["actor"]["id"] == anne_id for i in items)
    rename = [i for i in items if i["action"] == "update" and i["entity"] == "site"]
    assert rename[0]["changes"]["name"] == ["Garage Martin Lyon 3", "Garage Anne"]
    # Not Bob's, not without naming one; administrators read everything.
    assert (
        client.get("/v1/audit", params={"organisation": theirs["id"]}, headers=anne).status_code
        == 403
    )
    assert client.get("/v1/audit", headers=anne).status_code == 400
    everything = client.get("/v1/audit", params={"limit": 1000}, headers=admin).json()["items"]
    assert {theirs["id"], mine["id"]} <= {i["entity_id"] for i in everything}
    # No secret ever reaches the trail.
    text = str(everything)
    assert "argon2" not in text and "password" not in text


def test_a_long_passphrase_is_rated_not_crashed_on(client: TestClient) -> None:
    # zxcvbn rates at most 72 characters; the policy accepts up to 128.
    strong = "violet harbour engine 42 " * 4  # 100 characters
    reply = client.post("/v1/auth/signup", json={"email": "long@garage.fr", "password": strong})
    assert reply.status_code == 202, reply.text
    weak = "a" * 100
    reply = client.post("/v1/auth/signup", json={"email": "long2@garage.fr", "password": weak})
    assert reply.status_code == 400 and reply.json()["errors"][0]["pointer"] == "/password"
