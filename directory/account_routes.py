"""Accounts, members and listing claims over HTTP. Controllers parse, call one service, return."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import Cookie, State
from litestar.params import JSONBody, PathParameter, QueryParameter
from sqlalchemy import select

from directory import access, accounts, ratelimit
from directory.auth import COOKIE, principal_of, require_account, require_scope, require_writer
from directory.counters import LOGIN_FAILURES, RATE_LIMITED
from directory.db import transaction
from directory.errors import Forbidden, TooManyRequests, Unauthorized
from directory.models import Account, ListingClaim, Role
from directory.schemas import (
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

Id = Annotated[str, PathParameter(max_length=40)]
AnyRequest = Request[Any, Any, Any]
ADMIN = [require_scope("admin")]


class AuthController(Controller):
    path = "/v1/auth"
    tags = ["accounts"]

    @post("/signup", sync_to_thread=True, status_code=202)
    def signup(self, state: State, data: JSONBody[SignupIn]) -> dict[str, str]:
        """Sends a verification message. The answer is the same whether or not the address
        already has an account, so sign-up does not tell who is registered."""
        with transaction(state.sessions) as session:
            accounts.signup(
                session, state.mailer, state.settings.public_url, data.email, data.password
            )
        return {"status": "verification sent"}

    @post("/verify", sync_to_thread=True, status_code=200)
    def verify(self, state: State, data: JSONBody[VerifyIn]) -> dict[str, str]:
        with transaction(state.sessions) as session:
            account = accounts.verify_email(session, data.token)
            return {"status": "verified", "account_id": account.id}

    @post("/login", sync_to_thread=True, status_code=200)
    def login(
        self, request: AnyRequest, state: State, data: JSONBody[LoginIn]
    ) -> Response[LoginOut]:
        settings = state.settings
        # Per account as well as per address: guesses spread over many addresses still meet
        # this limit. Counted in its own transaction, so a failed attempt stays counted.
        with transaction(state.sessions) as session:
            verdict = ratelimit.hit(
                session, f"login:{data.email.strip().lower()[:140]}", settings.rate_auth * 2
            )
        if not verdict.allowed:
            RATE_LIMITED.inc()
            raise TooManyRequests(
                f"too many log-in attempts for this account; retry in {verdict.retry_after_s} s",
                verdict.headers(),
            )
        try:
            with transaction(state.sessions) as session:
                new = accounts.login(
                    session,
                    data.email,
                    data.password,
                    hours=settings.session_hours,
                    cookie=data.cookie,
                    ip=principal_of(request).client,
                )
        except (Unauthorized, Forbidden):
            LOGIN_FAILURES.inc()
            raise
        if not data.cookie:
            return Response(LoginOut(token=new.token, expires_at=new.expires_at))
        cookie = Cookie(
            key=COOKIE,
            value=new.token,
            max_age=settings.session_hours * 3600,
            httponly=True,
            secure=True,
            samesite="strict",
            path="/",
        )
        return Response(
            LoginOut(csrf_token=new.csrf_token, expires_at=new.expires_at), cookies=[cookie]
        )

    @post(
        "/logout",
        guards=[require_account],
        sync_to_thread=True,
        status_code=204,
    )
    def logout(self, request: AnyRequest, state: State) -> Response[None]:
        """Ends this session at once: the token (or cookie) is refused from the next request."""
        session_id = principal_of(request).session_id
        with transaction(state.sessions) as session:
            if session_id:
                accounts.logout(session, session_id)
        response: Response[None] = Response(None, status_code=204)
        response.delete_cookie(COOKIE, path="/")
        return response

    @get("/me", guards=[require_account], sync_to_thread=True)
    def me(self, request: AnyRequest, state: State) -> MeOut:
        principal = principal_of(request)
        with transaction(state.sessions) as session:
            account = session.get(Account, principal.id)
            assert account is not None  # noqa: S101 - the session was just checked
            roles = session.scalars(
                select(Role).where(Role.account_id == account.id).order_by(Role.organisation_id)
            )
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
        self, request: AnyRequest, state: State, organisation_id: Id, data: JSONBody[MemberIn]
    ) -> MemberAdded:
        with transaction(state.sessions) as session:
            status = access.add_member(
                session, state.mailer, principal_of(request), organisation_id, data.email, data.role
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
        self, request: AnyRequest, state: State, organisation_id: Id
    ) -> dict[str, list[MemberOut]]:
        with transaction(state.sessions) as session:
            access.organisation_for_write(session, principal_of(request), organisation_id)
            return {
                "items": [
                    MemberOut(account_id=a.id, email=a.email, role=r.role, since=r.created_at)
                    for a, r in access.members(session, organisation_id)
                ]
            }

    @delete(
        "/{organisation_id:str}/members/{account_id:str}",
        guards=[require_writer],
        sync_to_thread=True,
        status_code=204,
    )
    def remove_member(
        self, request: AnyRequest, state: State, organisation_id: Id, account_id: Id
    ) -> None:
        with transaction(state.sessions) as session:
            access.remove_member(session, principal_of(request), organisation_id, account_id)

    @post(
        "/{organisation_id:str}/claim",
        guards=[require_account],
        sync_to_thread=True,
        status_code=202,
        description="Ask to own an existing listing; an administrator approves or rejects it.",
    )
    def claim_listing(
        self, request: AnyRequest, state: State, organisation_id: Id, data: JSONBody[ListingClaimIn]
    ) -> ListingClaimOut:
        with transaction(state.sessions) as session:
            return claim_out(
                access.request_listing(
                    session, principal_of(request), organisation_id, data.message
                )
            )


def claim_out(claim: ListingClaim, email: str | None = None) -> ListingClaimOut:
    return ListingClaimOut(
        id=claim.id,
        organisation_id=claim.organisation_id,
        account_id=claim.account_id,
        status=claim.status,
        message=claim.message,
        created_at=claim.created_at,
        decided_at=claim.decided_at,
        reason=claim.reason,
        email=email,
    )


def _decide(request: AnyRequest, state: State, claim_id: str, approve: bool, reason: str | None):
    principal = principal_of(request)
    if not principal.admin:  # the guard has checked it; the service must never run without
        raise Forbidden("administrators only")
    with transaction(state.sessions) as session:
        claim = access.decide_listing_claim(
            session, state.mailer, claim_id, approve, f"key:{principal.label}", reason
        )
        return claim_out(claim)


class ListingClaimController(Controller):
    path = "/v1/listing-claims"
    tags = ["operations"]

    @get("/", guards=ADMIN, sync_to_thread=True)
    def list_listing_claims(
        self,
        state: State,
        status: Annotated[
            str | None, QueryParameter(pattern=r"^(pending|approved|rejected)$")
        ] = "pending",
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    ) -> dict[str, list[ListingClaimOut]]:
        with transaction(state.sessions) as session:
            rows = access.list_listing_claims(session, status, limit)
            return {"items": [claim_out(c, email) for c, email in rows]}

    @post(
        "/{claim_id:str}/approve",
        guards=ADMIN,
        sync_to_thread=True,
        status_code=200,
    )
    def approve(
        self,
        request: AnyRequest,
        state: State,
        claim_id: Id,
        data: JSONBody[DecisionIn | None] = None,
    ) -> ListingClaimOut:
        return _decide(request, state, claim_id, True, data.reason if data else None)

    @post(
        "/{claim_id:str}/reject",
        guards=ADMIN,
        sync_to_thread=True,
        status_code=200,
    )
    def reject(
        self,
        request: AnyRequest,
        state: State,
        claim_id: Id,
        data: JSONBody[DecisionIn | None] = None,
    ) -> ListingClaimOut:
        return _decide(request, state, claim_id, False, data.reason if data else None)


route_handlers: list[Any] = [AuthController, MemberController, ListingClaimController]
