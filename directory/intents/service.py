"""A repair intent, answered: decode the vehicle, read each code and job against the needs
catalogue, then run the directory's own search (same backends, same order) for workshops that
hold every required need. When none within the radius does, two more searches say where to go
instead: the nearest that do, further out, and the nearest within the radius that meet the most.

The common answer costs one search plus the reading of the intent (a few microseconds a code);
the two further searches run only for an intent nothing nearby can meet."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from certifications.codes import Code, CodeError, parse_code
from certifications.needs import Need, Resolution, Vehicle
from certifications.vin import DecodedVin, VinError, decode_vin
from directory.errors import FieldError, InvalidInput
from directory.intents.schemas import (
    CodeOut,
    IntentAnswer,
    IntentIn,
    Met,
    NeedOut,
    VehicleOut,
    Workshop,
)
from directory.searching.service import parse, run
from directory.services import Services
from search.query import MAX_RADIUS_KM
from search.results import SearchItem

__all__ = ["answer", "read_intent"]

# How many of the nearest workshops meeting any need are weighed for "meet the most".
PARTIAL_POOL = 100


class Read(msgspec.Struct, frozen=True, kw_only=True):
    """An intent checked and read: what the vehicle is, what each code and job needs."""

    intent: IntentIn
    vin: DecodedVin | None
    vehicle: Vehicle
    brand_from: Literal["vin", "caller"] | None
    codes: tuple[Code, ...]
    resolution: Resolution


def read_intent(services: Services, intent: IntentIn) -> Read:
    """Every problem of the intent at once, each pointing at its field."""
    problems: list[FieldError] = []
    codes: list[Code] = []
    for i, text in enumerate(intent.codes):
        try:
            codes.append(parse_code(text))
        except CodeError as err:
            problems.append(FieldError(f"/codes/{i}", str(err)))
    for i, job in enumerate(intent.jobs):
        if services.jobs.get(job) is None:
            problems.append(
                FieldError(f"/jobs/{i}", f"{job!r} is not a repair job (GET /v1/jobs lists them)")
            )
    if not intent.codes and not intent.jobs:
        problems.append(FieldError("/codes", "give the fault codes read, or the jobs to do"))
    vin = None
    brand = intent.vehicle.brand
    brand_from: Literal["vin", "caller"] | None = "caller" if brand else None
    if intent.vehicle.vin is not None:
        try:
            vin = decode_vin(intent.vehicle.vin)
        except VinError as err:
            problems.append(FieldError("/vehicle/vin", str(err)))
    if vin is not None and vin.brand is not None:
        if brand is not None and brand != vin.brand:
            problems.append(
                FieldError(
                    "/vehicle/brand",
                    f"the VIN is a {vin.maker}'s ({vin.brand!r}), not {brand!r}: give one or "
                    "make them agree",
                )
            )
        brand, brand_from = vin.brand, "vin"
    if intent.place is None and (intent.lat is None or intent.lng is None):
        problems.append(FieldError("/lat", "give lat and lng, or place"))
    if intent.place is not None and intent.lat is not None:
        problems.append(FieldError("/place", "give place or lat/lng, not both"))
    if intent.open_at is not None and intent.open_at.tzinfo is None:
        problems.append(FieldError("/open_at", "an RFC 3339 instant needs its offset"))
    if problems:
        raise InvalidInput("invalid repair intent", errors=problems)
    vehicle = Vehicle(brand=brand, powertrain=intent.vehicle.powertrain)
    unique_codes = tuple({c.code: c for c in codes}.values())
    return Read(
        intent=intent,
        vin=vin,
        vehicle=vehicle,
        brand_from=brand_from,
        codes=unique_codes,
        resolution=services.needs.resolve(vehicle, unique_codes, list(dict.fromkeys(intent.jobs))),
    )


def _query(read: Read, **changes: Any) -> dict[str, Any]:
    intent = read.intent
    params: dict[str, Any] = {
        "radius_km": intent.radius_km,
        "limit": intent.limit,
        "include_declared": intent.include_declared,
        "job": [n.job for n in read.resolution.required],
    }
    if intent.place is not None:
        params["place"] = intent.place
    else:
        params["lat"], params["lng"] = intent.lat, intent.lng
    if read.vehicle.brand is not None:
        params["brand"] = [read.vehicle.brand]
    if intent.open_at is not None:
        params["open_at"] = intent.open_at
    if intent.open_now:
        params["open_now"] = True
    return params | changes


def _held(item: SearchItem) -> dict[str, str]:
    return {c.scheme: c.status for c in item.competences}


def _met(need_id: str, need: Need, held: dict[str, str]) -> Met | None:
    statuses = {s: held[s] for s in need.competences if s in held}
    if not statuses:
        return None
    verified = [s for s, st in statuses.items() if st == "verified"]
    scheme = verified[0] if verified else next(iter(statuses))
    return Met(need=need_id, scheme=scheme, status="verified" if verified else "declared")


def _workshop(item: SearchItem, resolution: Resolution) -> Workshop:
    held = _held(item)
    meets, lacks = [], []
    for need in resolution.required:
        met = _met(need.job or need.rule, need, held)
        if met is None:
            lacks.append(need.job or need.rule)
        else:
            meets.append(met)
    preferred = [
        m for need in resolution.preferred if (m := _met(need.rule, need, held)) is not None
    ]
    return Workshop(site=item, meets=meets, lacks=lacks, preferred=preferred)


async def answer(services: Services, read: Read, own: frozenset[str]) -> IntentAnswer:
    resolution = read.resolution
    catalogue, jobs = services.catalogue, services.jobs
    preferred = frozenset(s for n in resolution.preferred for s in n.competences)
    try:
        found, _ = await run(services, parse(_query(read), catalogue, jobs), own, report=preferred)
    except InvalidInput as err:
        raise _as_intent_error(err) from err
    workshops = [_workshop(i, resolution) for i in found.items]
    further: list[Workshop] = []
    partial: list[Workshop] = []
    if not workshops:
        if read.intent.radius_km < MAX_RADIUS_KM:
            wider, _ = await run(
                services,
                parse(_query(read, radius_km=MAX_RADIUS_KM), catalogue, jobs),
                own,
                report=preferred,
            )
            further = [_workshop(i, resolution) for i in wider.items]
        any_need = tuple(dict.fromkeys(s for n in resolution.required for s in n.competences))
        near, _ = await run(
            services,
            parse(_query(read, job=[], limit=PARTIAL_POOL), catalogue, jobs),
            own,
            any_of=(any_need,),
            report=frozenset(any_need) | preferred,
        )
        ranked = sorted(
            (_workshop(i, resolution) for i in near.items),
            key=lambda w: (-len(w.meets), w.site.distance_m, w.site.id),
        )
        partial = ranked[: read.intent.limit]
    return IntentAnswer(
        vehicle=VehicleOut(
            brand=read.vehicle.brand,
            brand_from=read.brand_from,
            powertrain=read.vehicle.powertrain,
            vin=read.vin,
        ),
        codes=[
            CodeOut(
                code=c.code,
                failure_type=c.failure_type,
                system=c.system,
                scope=c.scope,
                rule=resolution.rules[c.code],
            )
            for c in read.codes
        ],
        required=[_need_out(n, services) for n in resolution.required],
        preferred=[_need_out(n, services) for n in resolution.preferred],
        origin=found.origin,
        radius_km=read.intent.radius_km,
        complete=bool(workshops),
        workshops=workshops,
        further=further,
        partial=partial,
    )


def _need_out(need: Need, services: Services) -> NeedOut:
    job = services.jobs.get(need.job) if need.job else None
    return NeedOut(
        kind=need.kind,
        job=need.job,
        name=job.name if job else None,
        competences=list(need.competences),
        rule=need.rule,
        reason=need.reason,
        source=need.source,
        asked_by=list(need.asked_by),
        fallback=need.fallback,
    )


def _as_intent_error(err: InvalidInput) -> InvalidInput:
    """The search's pointers (/query/place) as the intent's own (/place)."""
    return InvalidInput(
        "invalid repair intent",
        errors=[FieldError(e.pointer.removeprefix("/query"), e.detail) for e in err.errors],
    )
