"""The OpenAPI document, completed with what Litestar cannot infer from the handlers: the
problem answers (RFC 9457, ``application/problem+json``) every operation can give, and If-Match
required where a missing one is refused with 428."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Litestar
from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    Schema,
)

from directory.errors import PROBLEM
from directory.vocabulary import Input

__all__ = ["complete_openapi"]

_PROBLEM_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    required=["type", "title", "status", "detail"],
    properties={
        "type": Schema(type=OpenAPIType.STRING, description="a relative URI naming the problem"),
        "title": Schema(type=OpenAPIType.STRING),
        "status": Schema(type=OpenAPIType.INTEGER),
        "detail": Schema(type=OpenAPIType.STRING),
        "errors": Schema(
            type=OpenAPIType.ARRAY,
            items=Schema(
                type=OpenAPIType.OBJECT,
                required=["pointer", "detail"],
                properties={
                    "pointer": Schema(type=OpenAPIType.STRING, description="RFC 6901"),
                    "detail": Schema(type=OpenAPIType.STRING),
                },
            ),
        ),
    },
)
_MEANING = {
    400: "Invalid input: every problem with a JSON pointer",
    401: "Credentials missing, unknown, expired or revoked",
    403: "The caller may not do this",
    404: "No such resource (or not visible to this caller)",
    409: "Conflicts with the current state",
    412: "The resource changed since the ETag sent in If-Match",
    413: "Request body too large",
    415: "The body is not JSON",
    422: "The attestation or revocation was refused (its reason says why)",
    428: "If-Match is required",
    429: "Rate limited: see Retry-After and the RateLimit headers",
}
# Operations whose write is refused without If-Match (check_if_match(required=True)).
_IF_MATCH_REQUIRED = {
    ("PATCH", "/v1/organisations/{organisation_id}"),
    ("PATCH", "/v1/sites/{site_id}"),
    ("PATCH", "/v1/technicians/{technician_id}"),
    ("PATCH", "/v1/networks/{network_id}"),
}


def _codes(method: str, path: str, operation: Operation) -> set[int]:
    codes = {400, 401, 403, 429}  # any request: its input, the gate's checks, the rate limit
    if "{" in path:
        codes.add(404)
    if method in {"POST", "PUT", "PATCH", "DELETE"}:
        codes.add(409)
    if method in {"POST", "PUT", "PATCH"}:
        codes |= {413, 415}
    if method == "POST" and path.startswith("/v1/attestations"):
        codes.add(422)  # AttestationRefused: signature, issuer, scheme, dates, replay
    if any(getattr(p, "name", "") == "If-Match" for p in operation.parameters or []):
        codes.add(412)
        if (method, path) in _IF_MATCH_REQUIRED:
            codes.add(428)
    return codes


def input_types() -> dict[str, type[Input]]:
    """Every request body type by name: each refuses unknown fields."""
    found: dict[str, type[Input]] = {}
    stack = list(Input.__subclasses__())
    while stack:
        cls = stack.pop()
        found[cls.__name__] = cls
        stack += cls.__subclasses__()
    return found


def _fill_items(schema: Schema, truth: dict[str, Any]) -> None:
    """Litestar drops the constraints of a list's items (``list[Annotated[str, Meta(pattern=…)]]``
    is documented as a list of any strings): a client generating inputs from the document then
    sends what is refused. Copy them from msgspec's own schema of the same field, which is what
    decodes the request."""
    options = schema.one_of or [schema]
    truths = truth.get("anyOf", [truth])
    for option in options:
        if not isinstance(option, Schema) or option.type != OpenAPIType.ARRAY:
            continue
        items = next((t.get("items") for t in truths if t.get("type") == "array"), None)
        if not isinstance(items, dict) or "$ref" in items or items.get("type") != "string":
            continue
        option.items = Schema(
            type=OpenAPIType.STRING,
            pattern=items.get("pattern"),
            enum=items.get("enum"),
            min_length=items.get("minLength"),
            max_length=items.get("maxLength"),
        )


def _fill_pattern(schema: Schema, truth: dict[str, Any]) -> None:
    """A pattern the service checks itself, for a readable refusal naming the value (a
    diagnostic trouble code, a VIN), is declared with ``Meta(extra_json_schema=…)``: msgspec's
    schema has it, Litestar's does not. Copy it, so the document says what is accepted."""
    for option in schema.one_of or [schema]:
        if isinstance(option, Schema) and option.type == OpenAPIType.STRING:
            for candidate in truth.get("anyOf", [truth]):
                if candidate.get("type") == "string" and "pattern" in candidate:
                    option.pattern = option.pattern or candidate["pattern"]


def complete_openapi(app: Litestar) -> None:
    """Add the problem answers and If-Match requirements to the app's document (once, before it
    is first served: the served JSON is made from this object)."""
    document = app.openapi_schema
    components = document.components
    if components.schemas is None:
        components.schemas = {}
    components.schemas["Problem"] = _PROBLEM_SCHEMA
    inputs = input_types()
    for name, schema in components.schemas.items():
        short = name.split("_")[-1]
        if short == "BatchIn" and isinstance(schema, Schema):
            schema.additional_properties = False  # refuses unknown fields, entries checked alone
        if short not in inputs or not isinstance(schema, Schema):
            continue
        schema.additional_properties = False  # forbid_unknown_fields: an unknown one is a 400
        truth = msgspec.json.schema(inputs[short])["$defs"][inputs[short].__name__]
        for field, property_schema in (schema.properties or {}).items():
            if isinstance(property_schema, Schema) and field in truth.get("properties", {}):
                _fill_items(property_schema, truth["properties"][field])
                _fill_pattern(property_schema, truth["properties"][field])
    problem = OpenAPIMediaType(schema=Reference(ref="#/components/schemas/Problem"))
    for path, item in (document.paths or {}).items():
        if path.startswith("/health/"):
            continue
        for method in ("get", "post", "put", "patch", "delete"):
            operation: Operation | None = getattr(item, method, None)
            if operation is None:
                continue
            responses = operation.responses if operation.responses is not None else {}
            for code in sorted(_codes(method.upper(), path, operation)):
                responses[str(code)] = OpenAPIResponse(
                    description=_MEANING[code], content={PROBLEM: problem}
                )
            operation.responses = responses
            if (method.upper(), path) in _IF_MATCH_REQUIRED:
                for parameter in operation.parameters or []:
                    if getattr(parameter, "name", "") == "If-Match":
                        parameter.required = True  # type: ignore[union-attr]
