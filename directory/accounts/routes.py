"""Accounts, members and listing claims over HTTP. Controllers parse, call one service, return."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, delete, get, post
from litestar.datastructures import Cookie
from litestar.params import JSONBody, QueryParameter

from directory.accounts import members
from directory.accounts import service as accounts
from directory.accounts.schemas import (
    DecisionIn,
    ListingClaimIn,
    ListingClaimOut,
    LoginIn,
    LoginOut,
    MemberAdded,
    MemberIn,
    MemberOut,
    MembershipOut,
    MeOut,
    SignupIn,
    VerifyIn,
)
from directory.db import transaction
from directory.errors import Forbidden, TooManyRequests, Unauthorized
from directory.gate import access, ratelimit
from directory.gate.auth import COOKIE, require_account, require_scope, require_writer
from directory.http import Caller, Db, Deps, Id
from directory.models import ListingClaim
from directory.ops.counters import LOGIN_FAILURES, RATE_LIMITED

ADMIN = [require_scope("admin")]


def _session_cookie(value: str, max_age: int) -> Cookie:
    return Cookie(
        key=COOKIE,
        value=value,
        max_age=max_age,
        httponly=True,
        secure=True,
        samesite="strict",
        path="/",
    )


class AuthController(Controller):
    path = "/v1/auth"
    tags = ["accounts"]

    @post("/signup", sync_to_thread=True, status_code=202)
    def signup(self, db: Db, app_services: Deps, data: JSONBody[SignupIn]) -> dict[str, str]:
        """Sends a verification message. The answer is the same whether or not the address
        already has an account, so sign-up does not tell who is registered."""
        accounts.signup(
            db, app_services.mailer, app_services.settings.public_url, data.email, data.password
        )
        return {"status": "verification sent"}

    @post("/verify", sync_to_thread=True, status_code=200)
    def verify(self, db: Db, data: JSONBody[VerifyIn]) -> dict[str, str]:
        account = accounts.verify_email(db, data.token)
        return {"status": "verified", "account_id": account.id}

    @post("/login", sync_to_thread=True, status_code=200)
    def login(
        self, db: Db, app_services: Deps, caller: Caller, data: JSONBody[LoginIn]
    ) -> Response[LoginOut]:
        settings = app_services.settings
        email = data.email.strip().lower()[:140]
        bucket, limit = f"login:{email}", settings.rate_auth * 2
        # Failed log-ins are limited per account as well as per address, so guesses spread over
        # many addresses still meet a limit. Past it, an address that has logged this account in
        # before still gets in: guessing slows down, and the owner is not locked out by it.
        with transaction(app_services.sessions) as own:
            if not ratelimit.peek(own, bucket, limit) and not accounts.known_address(
                own, email, caller.client
            ):
                RATE_LIMITED.inc()
                raise TooManyRequests(
                    "too many failed log-ins for this account; retry in a minute",
                    {"Retry-After": "60"},
                )
        try:
            new = accounts.login(
                db,
                data.email,
                data.password,
                hours=settings.session_hours,
                cookie=data.cookie,
                ip=caller.client,
            )
        except (Unauthorized, Forbidden):
            LOGIN_FAILURES.inc()
            # This request's transaction is refused anyway: end it first, so its write lock
            # (SQLite) is not held while the failure is counted in a transaction of its own.
            db.rollback()
            with transaction(app_services.sessions) as own:  # counted even as this request fails
                ratelimit.hit(own, bucket, limit)
            raise
        if not data.cookie:
            return Response(LoginOut(token=new.token, expires_at=new.expires_at))
        cookie = _session_cookie(new.token, max_age=settings.session_hours * 3600)
        return Response(
            LoginOut(csrf_token=new.csrf_token, expires_at=new.expires_at), cookies=[cookie]
        )

    @post(
        "/logout",
        guards=[require_account],
        sync_to_thread=True,
        status_code=204,
    )
    def logout(self, db: Db, caller: Caller) -> Response[None]:
        """Ends this session at once: the token (or cookie) is refused from the next request."""
        session_id = caller.session_id
        if session_id:
            accounts.logout(db, session_id)
        response: Response[None] = Response(None, status_code=204)
        # The deleting cookie keeps every attribute of the one it replaces (Secure, HttpOnly,
        # SameSite): a browser must never see this name without them.
        response.set_cookie(_session_cookie("", max_age=0))
        return response

    @get("/me", guards=[require_account], sync_to_thread=True)
    def me(self, db: Db, caller: Caller) -> MeOut:
        assert caller.id is not None  # noqa: S101 - require_account has checked it
        account, roles = accounts.account_with_roles(db, caller.id)
        return MeOut(
            id=account.id,
            email=account.email,
            created_at=account.created_at,
            organisations=[
                MembershipOut(organisation_id=r.organisation_id, role=r.role) for r in roles
            ],
        )


class MemberController(Controller):
    """Members and listing claims of an organisation (beside OrganisationController)."""

    path = "/v1/organisations"
    tags = ["organisations"]

    @post(
        "/{organisation_id:str}/members",
        guards=[require_writer],
        sync_to_thread=True,
        status_code=201,
        description="Owners give a role to an account, or invite an address (granted on sign-up).",
    )
    def add_member(
        self,
        db: Db,
        app_services: Deps,
        caller: Caller,
        organisation_id: Id,
        data: JSONBody[MemberIn],
    ) -> MemberAdded:
        status = members.add_member(
            db, app_services.mailer, caller, organisation_id, data.email, data.role
        )
        return MemberAdded(
            email=accounts.normalise_email(data.email), role=data.role, status=status
        )

    @get(
        "/{organisation_id:str}/members",
        guards=[require_writer],
        sync_to_thread=True,
    )
    def list_members(
        self, db: Db, caller: Caller, organisation_id: Id
    ) -> dict[str, list[MemberOut]]:
        access.organisation_for_write(db, caller, organisation_id)
        return {
            "items": [
                MemberOut(account_id=a.id, email=a.email, role=r.role, since=r.created_at)
                for a, r in members.members(db, organisation_id)
            ]
        }

    @delete(
        "/{organisation_id:str}/members/{account_id:str}",
        guards=[require_writer],
        sync_to_thread=True,
        status_code=204,
    )
    def remove_member(self, db: Db, caller: Caller, organisation_id: Id, account_id: Id) -> None:
        members.remove_member(db, caller, organisation_id, account_id)

    @post(
        "/{organisation_id:str}/claim",
        guards=[require_account],
        sync_to_thread=True,
        status_code=202,
        description="Ask to own an existing listing; an administrator approves or rejects it.",
    )
    def claim_listing(
        self, db: Db, caller: Caller, organisation_id: Id, data: JSONBody[ListingClaimIn]
    ) -> ListingClaimOut:
        return claim_out(members.request_listing(db, caller, organisation_id, data.message))


def claim_out(claim: ListingClaim, email: str | None = None) -> ListingClaimOut:
    """A listing claim; ``email``, the requester's address, for administrators only."""
    out = msgspec.convert(claim, ListingClaimOut, from_attributes=True)
    out.email = email
    return out


def _decide(
    db: Db,
    app_services: Deps,
    caller: Caller,
    claim_id: str,
    approve: bool,
    reason: str | None,
) -> ListingClaimOut:
    if not caller.admin:  # the guard has checked it; the service must never run without
        raise Forbidden("administrators only")
    claim = members.decide_listing_claim(
        db, app_services.mailer, claim_id, approve, f"key:{caller.label}", reason
    )
    return claim_out(claim)


class ListingClaimController(Controller):
    path = "/v1/listing-claims"
    tags = ["operations"]

    @get("/", guards=ADMIN, sync_to_thread=True)
    def list_listing_claims(
        self,
        db: Db,
        status: Annotated[
            str | None, QueryParameter(pattern=r"^(pending|approved|rejected)$")
        ] = "pending",
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    ) -> dict[str, list[ListingClaimOut]]:
        rows = members.list_listing_claims(db, status, limit)
        return {"items": [claim_out(c, email) for c, email in rows]}

    @post(
        "/{claim_id:str}/approve",
        guards=ADMIN,
        sync_to_thread=True,
        status_code=200,
    )
    def approve(
        self,
        db: Db,
        app_services: Deps,
        caller: Caller,
        claim_id: Id,
        data: JSONBody[DecisionIn | None] = None,
    ) -> ListingClaimOut:
        return _decide(db, app_services, caller, claim_id, True, data.reason if data else None)

    @post(
        "/{claim_id:str}/reject",
        guards=ADMIN,
        sync_to_thread=True,
        status_code=200,
    )
    def reject(
        self,
        db: Db,
        app_services: Deps,
        caller: Caller,
        claim_id: Id,
        data: JSONBody[DecisionIn | None] = None,
    ) -> ListingClaimOut:
        return _decide(db, app_services, caller, claim_id, False, data.reason if data else None)


route_handlers: list[Any] = [AuthController, MemberController, ListingClaimController]
