"""schemathesis against the served OpenAPI document: no 5xx, every response as documented.

Every operation of /openapi.json gets generated requests (valid and invalid) over real
HTTP to a real server on a real database; each response is checked: not a server
error, a status code the document lists for that operation, the documented content
type, and a body that matches the documented schema (errors included).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    allow_header_conformance,
    content_type_conformance,
    missing_required_header,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from tests.api.server import LiveServer, live_server

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
    # issue 9: a 405 names the allowed methods; headers as documented
    unsupported_method,
    allow_header_conformance,
    missing_required_header,
    response_headers_conformance,
]


@pytest.fixture(scope="module")
def fuzz_server(api_db: str, api_data_dir: Path) -> Iterator[LiveServer]:
    """A server with no worker: generated uploads must not start real analysis."""
    env = {
        "MEDIAFLOW_ALLOWED_ROOTS": f'["{api_data_dir / "allowed"}"]',
        "MEDIAFLOW_UPLOAD_MAX_BYTES": str(1024 * 1024),
    }
    with live_server(
        database_url=api_db, data_dir=api_data_dir, args=("--workers", "0"), env=env
    ) as server:
        yield server


@pytest.fixture(scope="module")
def api_schema(fuzz_server: LiveServer) -> schemathesis.BaseSchema:
    """The OpenAPI document the server serves, bound to that server."""
    # the document lists no servers: requests go to where it was loaded from
    return schemathesis.openapi.from_url(f"{fuzz_server.base_url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_conforms(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=CHECKS, timeout=30)
