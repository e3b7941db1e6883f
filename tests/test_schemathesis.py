"""Schemathesis against /api/openapi.json, in process: every response to generated requests, valid
and invalid ones, matches the document. Admin endpoints are authorised with a token configured on a
writable copy of the index (and schemathesis also checks they refuse requests without it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings

from indexer.build import Ingestor
from kb.config import Settings
from web import create_app
from web.openapi import document

from support.report import tell

# Pinned as schemathesis==4.32.5 in the test extras; skipped (with this reason) where it is not installed.
schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed: pip install schemathesis==4.32.5")
from schemathesis.checks import negative_data_rejection, positive_data_acceptance  # noqa: E402
from schemathesis.config import SchemathesisConfig  # noqa: E402
from schemathesis.generation import GenerationMode  # noqa: E402

TOKEN = "schemathesis-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
OPERATIONS = [(method.upper(), path) for path, ops in document()["paths"].items() for method in ops]
# Schema-invalid requests exist only where a typed query parameter, a body or the admin header is declared.
CASES = [(m, p, mode) for m, p in OPERATIONS for mode in GenerationMode
         if mode is GenerationMode.POSITIVE or m != "GET"
         or any(q["in"] == "query" and q["schema"] != {"type": "string"} for q in document()["paths"][p]["get"].get("parameters", []))]
EXAMPLES = {"/api/reindex": 3, "/healthz": 2, "/api/openapi.json": 2}  # slow or parameterless: fewer cases
DEFAULT_EXAMPLES = 20
# Unknown query parameters are ignored on purpose (tracking parameters, cache busters), so requests
# are not made "invalid" by adding some.
CONFIG = SchemathesisConfig.from_dict({"generation": {"allow-extra-parameters": False}})


@pytest.fixture
def api_app(writable_index: Path, examples_dir: Path) -> Flask:
    """An app with the admin API on, over a private copy of the index."""
    s = Settings(index_dir=writable_index, admin_token=TOKEN, articles_dir=examples_dir, parse_workers=1,
                 max_body_bytes=64 * 1024, lock_timeout_s=0.5)
    return create_app(s, ingestor=Ingestor(s))


@pytest.mark.parametrize(("method", "path", "mode"), CASES, ids=[f"{m} {p} {mode.value}" for m, p, mode in CASES])
def test_every_response_matches_the_openapi_document(api_app: Flask, method: str, path: str,
                                                      mode: GenerationMode, pytestconfig: pytest.Config) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", api_app, config=CONFIG)
    operation = schema[path][method]
    # An upload's acceptance depends on its HTML (no article text: 422), which a string schema cannot
    # say; every other check (status codes, headers, response schemas, no 5xx, auth) applies.
    excluded = [positive_data_acceptance] if method in ("POST", "PUT") else []
    # Query values are read leniently on purpose (kind=FAQ, group= as the default, full=yes), so an
    # invalid request may get a 200; it must still never get a 5xx or a response off the document.
    excluded.append(negative_data_rejection)
    tried = []

    @settings(max_examples=EXAMPLES.get(path, DEFAULT_EXAMPLES), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        tried.append(case)
        case.call_and_validate(headers=AUTH, excluded_checks=excluded)

    run()
    tell(pytestconfig, f"[schemathesis] {method} {path} ({mode.value}): {len(tried)} requests, all conform")
