"""Property-based checks of the running server against its own `/openapi.json`.

For every documented operation, hypothesis draws bodies that follow the request schema and bodies
that break it (wrong types, missing or unknown fields, arbitrary JSON, raw bytes), plus odd request
ids and bearer tokens. Every answer must be a documented status (never a 5xx) whose JSON validates
against the documented schema for that status, and the server must stay up.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from tests.support.processes import running_server, service_env

pytestmark = pytest.mark.integration

PRINTABLE = string.ascii_letters + string.digits + string.punctuation + " "
JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
ANY_JSON = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12)


class Spec:
    """The served OpenAPI document, with the ids of one real conversation to aim at."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.doc = httpx.get(f"{base}/openapi.json", timeout=30).json()
        turn = httpx.post(f"{base}/v1/chat/message", json={"message": "recommend a horror manga"}, timeout=60).json()
        self.session_ids = [turn["session_id"]]
        self.request_ids = [turn["request_id"]]
        self.operations = [(path, method, op) for path, ops in self.doc["paths"].items() for method, op in ops.items()]

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        return schema

    def validator(self, schema: dict[str, Any]) -> Draft202012Validator:
        # Refs are `#/components/schemas/...`: resolve them against a root that carries the components.
        return Draft202012Validator({**schema, "components": self.doc["components"]})

    def strategy(self, schema: dict[str, Any], name: str = "") -> st.SearchStrategy[Any]:
        """Values that satisfy `schema` (the subset of JSON Schema pydantic emits for request bodies)."""
        schema = self.resolve(schema)
        if "anyOf" in schema:
            return st.one_of([self.strategy(s, name) for s in schema["anyOf"]])
        if "enum" in schema:
            return st.sampled_from(schema["enum"])
        if "const" in schema:
            return st.just(schema["const"])
        kind = schema.get("type")
        if kind == "object":
            return self._object(schema)
        if kind == "string":
            return self._string(schema, name)
        if kind == "integer":
            return st.integers(schema.get("minimum"), schema.get("maximum"))
        if kind == "boolean":
            return st.booleans()
        if kind == "null":
            return st.none()
        raise AssertionError(f"no strategy for schema {schema}")

    def _string(self, schema: dict[str, Any], name: str) -> st.SearchStrategy[str]:
        low, high = schema.get("minLength", 0), schema.get("maxLength", 60)
        if "pattern" in schema:
            drawn = st.from_regex(schema["pattern"], fullmatch=True).filter(lambda s: low <= len(s) <= high)
        else:
            drawn = st.text(min_size=low, max_size=min(high, 60))
        known = {"session_id": self.session_ids, "message_id": self.request_ids}.get(name)
        return st.sampled_from(known) | drawn if known else drawn

    def _object(self, schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
        if "patternProperties" in schema:
            [(pattern, value)] = schema["patternProperties"].items()
            keys = st.from_regex(pattern, fullmatch=True).filter(
                lambda k: len(k) <= schema.get("propertyNames", {}).get("maxLength", 32))
            return st.dictionaries(keys, self.strategy(value), max_size=min(schema.get("maxProperties", 4), 4))
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {k: self.strategy(v, k) for k, v in props.items() if k in required},
            optional={k: self.strategy(v, k) for k, v in props.items() if k not in required},
        )

    def invalid(self, schema: dict[str, Any]) -> st.SearchStrategy[Any]:
        """Bodies that break `schema`: a field of the wrong type, a required one missing, an unknown one."""
        schema = self.resolve(schema)
        props, required = schema.get("properties", {}), schema.get("required", [])
        valid = self.strategy(schema)
        broken = [ANY_JSON, valid.map(lambda body: {**body, "unexpected_field": 1})]
        if props:
            broken.append(st.tuples(valid, st.sampled_from(sorted(props)), st.integers() | st.lists(st.none()))
                          .map(lambda t: {**t[0], t[1]: t[2]}))
        if required:
            broken.append(st.tuples(valid, st.sampled_from(required))
                          .map(lambda t: {k: v for k, v in t[0].items() if k != t[1]}))
        return st.one_of(broken)


@pytest.fixture(scope="module")
def spec(tmp_path_factory) -> Iterator[Spec]:
    env = service_env(tmp_path_factory.mktemp("props"), MANGAASSIST_LLM_MODE="off", MANGAASSIST_LOG_LEVEL="WARNING")
    with running_server(env) as base:
        yield Spec(base)


@st.composite
def requests(draw: st.DrawFn, spec: Spec) -> tuple[str, str, dict[str, Any], dict[str, str], dict[str, Any]]:
    path, method, op = draw(st.sampled_from(spec.operations))
    kwargs: dict[str, Any] = {}
    for param in op.get("parameters", []):
        value = draw(st.sampled_from(spec.session_ids) | spec.strategy(param["schema"]) | st.text(max_size=40))
        path = path.replace("{" + param["name"] + "}", quote(value, safe="") or "x")
    body = op.get("requestBody")
    if body is not None:
        schema = body["content"]["application/json"]["schema"]
        kind = draw(st.sampled_from(["valid", "valid", "invalid", "bytes"]))
        if kind == "bytes":
            kwargs["content"] = draw(st.binary(max_size=200))
        else:
            kwargs["json"] = draw(spec.strategy(schema) if kind == "valid" else spec.invalid(schema))
    headers: dict[str, str] = {}
    if draw(st.booleans()):
        # Surrounding whitespace is not part of a header value on the wire.
        headers["x-request-id"] = draw(st.text(alphabet=PRINTABLE, max_size=140)).strip()
    if draw(st.integers(1, 10)) == 7:  # not the shrink target, so a bad token stays rare
        headers["authorization"] = draw(st.sampled_from(["Bearer not-a-token", "Basic abc", "Bearer"]))
    if path.endswith("/init") and draw(st.booleans()):
        headers["accept-language"] = draw(st.text(alphabet=string.ascii_letters + "-,;=.0123456789 ", max_size=30))
    return method.upper(), path, op, headers, kwargs


def _check(spec: Spec, method: str, path: str, op: dict[str, Any], response: httpx.Response,
           headers: dict[str, str]) -> None:
    where = f"{method} {path} -> {response.status_code} {response.text[:200]}"
    assert response.status_code < 500, where
    documented = op["responses"].get(str(response.status_code))
    generic = response.status_code in (404, 405)  # a drawn path that no route matches
    assert documented is not None or generic, f"undocumented status: {where}"
    content = (documented or {}).get("content", {})
    if "application/json" in content or generic:
        schema = content.get("application/json", {}).get("schema", {"$ref": "#/components/schemas/ErrorResponse"})
        errors = sorted(spec.validator(schema).iter_errors(response.json()), key=str)
        assert not errors, f"{where}: {errors[0].message}"
    elif "text/plain" in content:
        assert response.headers["content-type"].startswith("text/plain"), where
    else:
        assert response.content == b"", where
    sent = headers.get("x-request-id", "")
    expected = sent if 0 < len(sent) <= 128 else None
    echoed = response.headers["x-request-id"]
    assert echoed == expected if expected else re.fullmatch(r"[0-9a-f]{32}", echoed), where


@settings(max_examples=120, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.filter_too_much, HealthCheck.data_too_large])
@given(data=st.data())
def test_every_operation_answers_as_documented(spec, data):
    method, path, op, headers, kwargs = data.draw(requests(spec))
    response = httpx.request(method, f"{spec.base}{path}", headers=headers, timeout=60, **kwargs)
    event(f"{op['operationId']} {response.status_code}")  # shown by --hypothesis-show-statistics
    _check(spec, method, path, op, response, headers)


def test_the_server_is_still_up_and_the_conversation_intact(spec):
    assert httpx.get(f"{spec.base}/healthz", timeout=10).json() == {"status": "ok"}
    assert httpx.get(f"{spec.base}/readyz", timeout=10).json() == {"status": "ready"}
    known = httpx.post(f"{spec.base}/v1/chat/message", timeout=60,
                       json={"message": "how much is the first one?", "session_id": spec.session_ids[0]})
    # Drawn DELETEs may have erased the session; then the id is free again and starts afresh.
    assert known.status_code == 200, known.text
    assert json.loads(known.text)["session_id"] == spec.session_ids[0]
