"""Hostile input to every route the application has, on both search backends: NUL and other
control characters in paths, queries and every text field of every body; bodies that are not
UTF-8, nested past any decoder's depth, or not JSON at all; instants without an offset or at the
calendar's ends; integers past 64 bits. Every answer is a 4xx problem (never a 5xx), and no row
of the record changes.

Routes, their query parameters and their body schemas are read from the application and its
OpenAPI document, so a new route is attacked without being listed here."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from litestar.testing import TestClient
from sqlalchemy.orm import Session, sessionmaker

from directory.vocabulary import FREE_TEXT, PRINTABLE, text_problem
from tests.conftest import table_snapshot

HOSTILE_TEXT = ["a\x00b", "\x1b[31mred", "Garage\u202eegaraG", "\ufeffBOM", "line\r\nbreak", "   "]
PROBLEM = "application/problem+json"


def _operations(client: TestClient) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path template, OpenAPI operation) of every route but HEAD and OPTIONS."""
    schema = client.app.openapi_schema.to_schema()
    out = []
    for path, item in schema["paths"].items():
        for method, op in item.items():
            if method.upper() in {"GET", "POST", "PUT", "PATCH", "DELETE"}:
                out.append((method.upper(), path, op))
    assert len(out) > 40  # the whole API, not an empty list that passes anything
    return out


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _hostile_body(
    schema: dict[str, Any],
    components: dict[str, Any],
    text: str,
    depth: int = 0,
    overfill: bool = False,
) -> Any:
    """The body schema filled in, every text field holding ``text``; with ``overfill``, every
    list one item longer than its limit."""
    outer = schema
    schema = _resolve(schema, components)
    for variant in schema.get("oneOf", []) + schema.get("anyOf", []):
        if _resolve(variant, components).get("type") not in (None, "null"):
            # Limits may sit beside the oneOf rather than inside it.
            merged = {**{k: v for k, v in schema.items() if k != "oneOf"}, **variant}
            return _hostile_body(merged, components, text, depth, overfill)
    kind = schema.get("type")
    if kind == "object" and depth < 4:
        return {
            name: _hostile_body(prop, components, text, depth + 1, overfill)
            for name, prop in schema.get("properties", {}).items()
        }
    if kind == "array":
        limit = schema.get("maxItems", outer.get("maxItems"))
        count = min(limit + 1, 2000) if overfill and limit is not None else 1
        item = _hostile_body(schema.get("items", {}), components, text, depth + 1, overfill)
        return [item] * count
    if kind == "string":
        return text
    return None


def _path(template: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", value, template)


@pytest.fixture(params=["client", "search_client"], ids=["database", "index"])
def app(request: pytest.FixtureRequest) -> TestClient:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


def _check(reply: Any, what: str, *, client_error: bool = True) -> None:
    assert reply.status_code < 500, f"{what}: {reply.status_code} {reply.text[:300]}"
    if client_error:
        assert 400 <= reply.status_code < 500, f"{what}: {reply.status_code}"
    if reply.status_code >= 400:
        assert reply.headers["content-type"].startswith(PROBLEM), what


def test_hostile_input_to_every_route_is_refused_and_changes_nothing(
    app: TestClient, admin: dict[str, str], site: dict, sessions: sessionmaker[Session]
) -> None:
    components = app.app.openapi_schema.to_schema().get("components", {}).get("schemas", {})
    before = table_snapshot(sessions)
    sent = 0
    for method, template, op in _operations(app):
        real = _path(template, site["id"])  # a path that exists, to reach the body and query
        # A NUL byte in a path parameter, percent-encoded and raw in the query.
        if "{" in template:
            _check(
                app.request(method, _path(template, "st_%00x"), headers=admin),
                f"{method} {template} path",
            )
            sent += 1
        _check(app.request(method, real + "?x=a%00b", headers=admin), f"{method} {template} query")
        sent += 1
        for param in op.get("parameters", []):
            if param.get("in") != "query":
                continue
            schema = _resolve(param.get("schema", {}), components)
            kinds = (
                {schema.get("type"), schema.get("format")}
                | {_resolve(v, components).get("format") for v in schema.get("oneOf", [])}
                | {_resolve(v, components).get("type") for v in schema.get("oneOf", [])}
            )
            name = param["name"]
            if "date-time" in kinds:
                for instant in (
                    "2026-01-01T00:00:00",
                    "9999-12-31T23:59:59-05:00",
                    "0001-01-01T00:00:00+14:00",
                ):
                    reply = app.request(method, real, params={name: instant}, headers=admin)
                    _check(reply, f"{method} {template} {name}={instant}")
                    sent += 1
            elif "integer" in kinds:
                for number in ("2147483648", str(2**64), "-1"):
                    reply = app.request(method, real, params={name: number}, headers=admin)
                    _check(reply, f"{method} {template} {name}={number}", client_error=False)
                    sent += 1
        body = op.get("requestBody", {}).get("content", {}).get("application/json")
        if method in {"POST", "PUT", "PATCH"}:
            raw_bodies = [b'{"a": "\xff\xfe"}', b"[" * 5000 + b"]" * 5000]
            for raw in raw_bodies:
                reply = app.request(
                    method, real, content=raw, headers={**admin, "content-type": "application/json"}
                )
                _check(reply, f"{method} {template} raw body")
                sent += 1
            reply = app.request(
                method, real, content=b"a=1", headers={**admin, "content-type": "text/plain"}
            )
            _check(reply, f"{method} {template} text body")
            sent += 1
        if body is not None:
            for text in HOSTILE_TEXT:
                payload = _hostile_body(body["schema"], components, text)
                reply = app.request(method, real, json=payload, headers=admin)
                what = f"{method} {template} body with {text!r}"
                if template.endswith("/batch") and reply.status_code == 200:
                    # A batch answers each entry in its slot: the bad one gets its problem there.
                    slots = reply.json()["results"]
                    assert slots and all(r.get("status") == 400 for r in slots), what
                else:
                    _check(reply, what)
                sent += 1
            # Every list one past its limit (a site's 41st service once answered 500).
            payload = _hostile_body(body["schema"], components, "x", overfill=True)
            if payload != _hostile_body(body["schema"], components, "x"):  # it has a limited list
                reply = app.request(method, real, json=payload, headers=admin)
                _check(reply, f"{method} {template} long lists")
                sent += 1
    assert sent > 300
    assert table_snapshot(sessions) == before


def test_a_name_with_control_or_bidi_characters_is_refused_with_its_pointer(
    client: TestClient, admin: dict[str, str], organisation: dict
) -> None:
    for name in ("Garage\u202eegaraG", "Esc\x1b[2J", "a\r\nb", "   ", "\ufeffGarage"):
        reply = client.patch(
            f"/v1/organisations/{organisation['id']}",
            json={"trade_name": name},
            headers={**admin, "If-Match": '"1"'},
        )
        assert reply.status_code == 400, (name, reply.text)
        assert [e["pointer"] for e in reply.json()["errors"]] == ["/trade_name"], name
    ok = client.patch(
        f"/v1/organisations/{organisation['id']}",
        json={"trade_name": "Garage Müller & Fils — 2ᵉ"},
        headers={**admin, "If-Match": '"1"'},
    )
    assert ok.status_code == 200, ok.text


def test_one_bad_entry_of_a_batch_gets_its_own_problem(client: TestClient, make_key) -> None:  # type: ignore[no-untyped-def]
    key = make_key("search:batch")
    queries = [
        {"lat": 45.76, "lng": 4.84},
        7,
        {"lat": 45.76, "lng": 4.84, "open_at": "9999-12-31T23:59:59Z"},
    ]
    reply = client.post("/v1/search/batch", json={"queries": queries}, headers=key)
    assert reply.status_code == 200, reply.text
    first, second, third = reply.json()["results"]
    assert "items" in first
    assert second["status"] == 400 and third["status"] == 400
    assert third["errors"][0]["pointer"] == "/query/open_at"


def test_the_change_feed_takes_any_64_bit_position(client: TestClient, make_key) -> None:  # type: ignore[no-untyped-def]
    key = make_key("changes")
    for after in ("2147483648", str(2**63 - 1), str(2**63), "9" * 20):
        reply = client.get("/v1/changes", params={"after": after}, headers=key)
        # Past the end of the feed: an empty page, as for a cursor from the future.
        assert reply.status_code == 200, (after, reply.text)
        assert reply.json()["items"] == [], after


@given(st.text(max_size=30))
def test_the_documented_text_patterns_say_what_the_service_accepts(text: str) -> None:
    # Full matches: JSON Schema patterns follow ECMA regexes, where $ ends the text.
    printable = re.compile(PRINTABLE[1:-1])
    free_text = re.compile(FREE_TEXT[1:-1])
    stored = (None, "must not be only spaces")  # blank text is a rule of its own
    assert (printable.fullmatch(text) is not None) == (text_problem(text) in stored)
    assert (free_text.fullmatch(text) is not None) == (text_problem(text, True) in stored)


def test_a_list_past_its_limit_is_refused_with_its_pointer(
    client: TestClient, admin: dict[str, str], organisation: dict
) -> None:
    body = {"name": "Garage", "address": {"city": "Lyon", "country": "FR", "postcode": "69001"}}
    reply = client.post(
        f"/v1/organisations/{organisation['id']}/sites",
        json={**body, "services": ["glass"] * 41},
        headers=admin,
    )
    assert reply.status_code == 400, reply.text
    assert [e["pointer"] for e in reply.json()["errors"]] == ["/services"]


def test_no_body_field_shares_a_name_with_an_injected_dependency(client: TestClient) -> None:
    """Litestar reports a failed body field under its last key; one named like a dependency is
    taken for a failed dependency and answered 500."""
    from directory.ops.openapi import input_types

    dependencies = set(client.app.dependencies)
    assert {"db", "caller"} <= dependencies
    fields = {f for cls in input_types().values() for f in cls.__struct_fields__}
    assert "services" in fields  # a site's services: the name that collided
    assert not dependencies & fields
