"""POST /v1/repair-intents and its batch: which workshops can fix this vehicle, and why."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import post
from litestar.params import JSONBody

from directory.errors import FieldError, InvalidInput, each_or_problem
from directory.gate.auth import require_scope
from directory.http import Caller, Deps
from directory.intents.schemas import IntentAnswer, IntentBatchIn, IntentIn
from directory.intents.service import answer, read_intent
from directory.ops.counters import SEARCHES
from directory.searching.service import own_networks

__all__ = ["route_handlers"]


@post(
    "/v1/repair-intents",
    tags=["search"],
    status_code=200,
    description=(
        "A vehicle (VIN, brand, powertrain) and its fault codes or repair jobs: the "
        "competences they need, each with the rule and reason that asks for it, and the "
        "workshops near a point or place that meet them."
    ),
)
async def repair_intent(
    app_services: Deps, caller: Caller, data: JSONBody[IntentIn]
) -> IntentAnswer:
    read = read_intent(app_services, data)
    result = await answer(app_services, read, await own_networks(app_services, caller))
    SEARCHES.labels("intent").inc()
    return result


def _convert(value: Any) -> IntentIn:
    if not isinstance(value, dict):
        raise InvalidInput(
            "invalid repair intent", errors=[FieldError("", "an intent is a JSON object")]
        )
    try:
        return msgspec.convert(value, IntentIn, strict=False)
    except msgspec.ValidationError as err:
        text, _, where = str(err).partition(" - at `$")
        pointer = where.rstrip("`").replace(".", "/").replace("[", "/").replace("]", "")
        raise InvalidInput("invalid repair intent", errors=[FieldError(pointer, text)]) from err


@post(
    "/v1/repair-intents/batch",
    guards=[require_scope("search:batch")],
    tags=["search"],
    status_code=200,
    description="Up to 500 repair intents; answers in order; a bad intent gets its own problem.",
)
async def repair_intent_batch(
    app_services: Deps, caller: Caller, data: JSONBody[IntentBatchIn]
) -> dict[str, list[Any]]:
    own = await own_networks(app_services, caller)

    async def one(value: Any) -> IntentAnswer:
        return await answer(app_services, read_intent(app_services, _convert(value)), own)

    return {"results": await each_or_problem(data.intents, one)}


route_handlers: list[Any] = [repair_intent, repair_intent_batch]
