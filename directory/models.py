"""SQLAlchemy models: the system of record. Every public row carries a version used as its ETag."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import (
    Mapped,
    declared_attr,
    mapped_column,
    relationship,
)

from directory.db import Base, utcnow
from directory.ids import new_id

__all__ = [
    "Account",
    "AccountToken",
    "ApiKey",
    "AuditEntry",
    "AuthSession",
    "Invitation",
    "ListingClaim",
    "RateBucket",
    "Role",
    "Attestation",
    "Claim",
    "Issuer",
    "IssuerKey",
    "Membership",
    "Network",
    "Organisation",
    "OrganisationIdentifier",
    "OutboxEvent",
    "PublicRecord",
    "Site",
    "Technician",
]


class PublicRecord(Base):
    """Rows that are public directory data: any change to one writes an outbox event."""

    __abstract__ = True
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    # SQLAlchemy bumps the version on every UPDATE and adds "WHERE version = :old" to it, so two
    # writers that both read version N cannot both win: the loser's UPDATE matches no row.
    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}


class Organisation(PublicRecord):
    __tablename__ = "organisation"
    legal_name: Mapped[str] = mapped_column(String(200))
    trade_name: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    website: Mapped[str | None] = mapped_column(String(2048))
    status: Mapped[str] = mapped_column(String(20), default="active")
    source: Mapped[str | None] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(128))

    identifiers: Mapped[list[OrganisationIdentifier]] = relationship(
        back_populates="organisation",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="OrganisationIdentifier.scheme",
    )
    sites: Mapped[list[Site]] = relationship(back_populates="organisation", lazy="raise_on_sql")

    __table_args__ = (UniqueConstraint("source", "external_id", name="uq_organisation_source"),)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("id", new_id("organisation"))
        super().__init__(**kwargs)


class OrganisationIdentifier(Base):
    """A registration number (SIREN, SIRET, VAT, company number …); unique per scheme."""

    __tablename__ = "organisation_identifier"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    organisation_id: Mapped[str] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), index=True
    )
    scheme: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(64))
    organisation: Mapped[Organisation] = relationship(back_populates="identifiers")

    __table_args__ = (UniqueConstraint("scheme", "value", name="uq_identifier_scheme_value"),)


class Site(PublicRecord):
    """A workshop: where vehicles are repaired, with what it works on and when it is open."""

    __tablename__ = "site"
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisation.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    street: Mapped[str | None] = mapped_column(String(200))
    postcode: Mapped[str | None] = mapped_column(String(16))
    city: Mapped[str] = mapped_column(String(100))
    country: Mapped[str] = mapped_column(String(2))
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    location_source: Mapped[str] = mapped_column(String(20), default="provided")
    timezone: Mapped[str] = mapped_column(String(64))
    opening_hours: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    website: Mapped[str | None] = mapped_column(String(2048))
    booking_url: Mapped[str | None] = mapped_column(String(2048))
    brands: Mapped[list[str]] = mapped_column(JSON, default=list)
    vehicles: Mapped[list[str]] = mapped_column(JSON, default=list)
    powertrains: Mapped[list[str]] = mapped_column(JSON, default=list)
    services: Mapped[list[str]] = mapped_column(JSON, default=list)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(24), default="active")
    source: Mapped[str | None] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(128))

    organisation: Mapped[Organisation] = relationship(back_populates="sites", lazy="joined")

    # As the API and search show a site (SiteOut, built from these attributes).
    @property
    def kind(self) -> str:
        return self.organisation.kind

    @property
    def address(self) -> dict[str, str | None]:
        return {
            "street": self.street,
            "postcode": self.postcode,
            "city": self.city,
            "country": self.country,
        }

    @property
    def location(self) -> dict[str, Any]:
        return {"lat": self.lat, "lng": self.lng, "source": self.location_source}

    @property
    def url(self) -> str:
        return f"/v1/sites/{self.id}"

    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_site_source"),
        Index("ix_site_updated", "updated_at", "id"),
        Index("ix_site_lat_lng", "lat", "lng"),
    )

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("id", new_id("site"))
        super().__init__(**kwargs)


class Technician(PublicRecord):
    """A person at a site, by display name or pseudonym only: personal data is minimised."""

    __tablename__ = "technician"
    site_id: Mapped[str] = mapped_column(ForeignKey("site.id"), index=True)
    display_name: Mapped[str] = mapped_column(String(100))

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("id", new_id("technician"))
        super().__init__(**kwargs)


class Network(PublicRecord):
    """A group of sites: a repair chain, an insurer's approved list, a carmaker's network."""

    __tablename__ = "network"
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(24))
    visibility: Mapped[str] = mapped_column(String(10), default="public")
    # The integration that maintains it (see ApiKey.integration); None for networks an
    # administrator keeps. A private network is visible to its owner's keys only.
    owner: Mapped[str | None] = mapped_column(String(64), index=True)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("id", new_id("network"))
        super().__init__(**kwargs)


class Membership(Base):
    __tablename__ = "membership"
    network_id: Mapped[str] = mapped_column(
        ForeignKey("network.id", ondelete="CASCADE"), primary_key=True
    )
    site_id: Mapped[str] = mapped_column(ForeignKey("site.id"), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Issuer(PublicRecord):
    """Who may attest competences: a training body, certification body, carmaker, employer …"""

    __tablename__ = "issuer"

    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(24))
    schemes: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    keys: Mapped[list[IssuerKey]] = relationship(
        back_populates="issuer",
        lazy="selectin",
        order_by="IssuerKey.id",
        cascade="all, delete-orphan",
    )

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("id", new_id("issuer"))
        super().__init__(**kwargs)

    @property
    def jwks_url(self) -> str:
        """Where anyone fetches the issuer's keys to verify its attestations again."""
        return f"/v1/issuers/{self.id}/jwks.json"


class IssuerKey(Base):
    """A public key of an issuer; retired keys stay published so old attestations verify."""

    __tablename__ = "issuer_key"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    issuer_id: Mapped[str] = mapped_column(ForeignKey("issuer.id"), index=True)
    kid: Mapped[str] = mapped_column(String(64))
    jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column()
    issuer: Mapped[Issuer] = relationship(back_populates="keys")

    __table_args__ = (UniqueConstraint("issuer_id", "kid", name="uq_issuer_key_kid"),)


class Attestation(Base):
    """A verified, signed statement; the token is kept so anyone can verify it again."""

    __tablename__ = "attestation"
    jti: Mapped[str] = mapped_column(String(128), primary_key=True)
    issuer_id: Mapped[str] = mapped_column(ForeignKey("issuer.id"), index=True)
    subject_id: Mapped[str] = mapped_column(String(32), index=True)
    holder: Mapped[str] = mapped_column(String(8))
    scheme: Mapped[str] = mapped_column(String(80))
    kid: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column()
    valid_from: Mapped[datetime] = mapped_column()
    valid_until: Mapped[datetime] = mapped_column(index=True)
    evidence: Mapped[str | None] = mapped_column(String(2048))
    token: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()
    revocation_token: Mapped[str | None] = mapped_column(Text)
    expiry_recorded_at: Mapped[datetime | None] = mapped_column()


class Claim(Base):
    """A competence a repairer declares without an issuer: shown as declared, never verified."""

    __tablename__ = "claim"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("site.id"), index=True)
    scheme: Mapped[str] = mapped_column(String(80))
    evidence_url: Mapped[str | None] = mapped_column(String(2048))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column()

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("id", new_id("claim"))
        super().__init__(**kwargs)


class ApiKey(Base):
    """An API key: only a SHA-256 of its secret is kept (the secret has 256 random bits)."""

    __tablename__ = "api_key"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    # Keys of one integration share what it owns (its private networks), so a key can be
    # rotated without losing them. Defaults to the key's own id: nothing is shared by accident.
    integration: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class Account(Base):
    """A repairer's login. Only an argon2id hash of the password is kept."""

    __tablename__ = "account"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # lower-cased
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    verified_at: Mapped[datetime | None] = mapped_column()
    disabled_at: Mapped[datetime | None] = mapped_column()

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("id", new_id("account"))
        super().__init__(**kwargs)


class AccountToken(Base):
    """A one-time token sent by mail (email verification); only its hash is kept."""

    __tablename__ = "account_token"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("account.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    # A sign-up's password travels with its own verification token and is set only when that
    # link is followed: whoever registers someone else's address first cannot keep the account.
    password_hash: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()


class AuthSession(Base):
    """A login: a bearer token, or a cookie plus a CSRF token. Both kept as hashes."""

    __tablename__ = "auth_session"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_hash: Mapped[str | None] = mapped_column(String(64))  # cookie sessions only
    account_id: Mapped[str] = mapped_column(ForeignKey("account.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    ip: Mapped[str | None] = mapped_column(String(64))

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("id", new_id("session"))
        super().__init__(**kwargs)


class Role(Base):
    """What an account may do for an organisation: owner (also manages members) or editor."""

    __tablename__ = "organisation_role"
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisation.id"), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("account.id"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Invitation(Base):
    """A role offered to an email that has no verified account yet; granted on verification."""

    __tablename__ = "invitation"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisation.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    role: Mapped[str] = mapped_column(String(8))
    invited_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    accepted_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (UniqueConstraint("organisation_id", "email", name="uq_invitation_email"),)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("id", new_id("invitation"))
        super().__init__(**kwargs)


class ListingClaim(Base):
    """A repairer asking to own an imported organisation; an administrator decides."""

    __tablename__ = "listing_claim"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisation.id"), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("account.id"), index=True)
    message: Mapped[str | None] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column()
    decided_by: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(2000))

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("id", new_id("listing_claim"))
        super().__init__(**kwargs)


class RateBucket(Base):
    """One rate-limit bucket (GCRA): the theoretical arrival time of the next request, in
    seconds since the epoch. Kept in the database so every worker process shares it."""

    __tablename__ = "rate_limit"
    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    tat: Mapped[float] = mapped_column(Float, index=True)


# 64-bit where a count of events can pass two billion; SQLite's INTEGER already is, and only an
# "INTEGER PRIMARY KEY" there is the auto-numbered rowid.
Sequence64 = BigInteger().with_variant(Integer(), "sqlite")


class AuditEntry(Base):
    """Who changed what (before and after of the changed fields), when, and from where."""

    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(Sequence64, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_kind: Mapped[str] = mapped_column(String(12))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(10))
    entity: Mapped[str] = mapped_column(String(24))
    entity_id: Mapped[str] = mapped_column(String(128), index=True)
    # The organisation the change concerns, so an organisation can read its own trail.
    organisation_id: Mapped[str | None] = mapped_column(String(32), index=True)
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)

    @property
    def actor(self) -> dict[str, str | None]:
        return {"kind": self.actor_kind, "id": self.actor_id, "ip": self.ip}


class OutboxEvent(Base):
    """A change to public data, written in the same transaction as the change itself."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Sequence64, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    entity: Mapped[str] = mapped_column(String(24))
    entity_id: Mapped[str] = mapped_column(String(32))
    op: Mapped[str] = mapped_column(String(10))
    processed_at: Mapped[datetime | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    available_at: Mapped[datetime | None] = mapped_column()  # retry not before (backoff)
    parked_at: Mapped[datetime | None] = mapped_column()  # poison: set aside with its reason
    # Position in the public change feed, given after commit (see directory/changes.py): ids are
    # taken at insert, so they can commit out of order; seq follows the order rows became visible.
    seq: Mapped[int | None] = mapped_column(Sequence64)

    __table_args__ = (
        Index("ix_outbox_pending", "processed_at", "id"),
        Index("uq_outbox_seq", "seq", unique=True),
    )
