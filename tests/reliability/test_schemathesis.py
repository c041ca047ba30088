"""Schemathesis (pinned in uv.lock) against the live OpenAPI document of a real `atelier serve`
process: every check it has, a fixed seed, zero failures allowed. The rejections no schema can
express are listed, each with its reason, in schemathesis.toml."""

from __future__ import annotations

import subprocess

import pytest

from directory.db import transaction
from directory.gate import keys
from tests.serving import BIN, ROOT, served


@pytest.mark.parametrize("caller", ["anonymous", "administrator"])
def test_schemathesis_finds_nothing(
    caller, database_url, meili, meili_keys, sessions, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """Anonymously, every write must be refused cleanly; with a key holding every scope, every
    operation is reached with the data Schemathesis makes, and each answer must match the
    document (status, content type, body)."""
    auth: list[str] = []
    if caller == "administrator":
        with transaction(sessions) as session:
            _, secret = keys.create_key(session, "schemathesis", keys.SCOPES, None, None)
        auth = ["--header", f"Authorization: Bearer {secret}"]
    with served(database_url, meili, meili_keys, tmp_path) as url:
        run = subprocess.run(  # noqa: S603
            [
                str(BIN / "schemathesis"),
                "run",
                f"{url}/schema/openapi.json",
                "--checks",
                "all",
                "--max-examples",
                "20",
                "--workers",
                "1",  # two workers crash inside schemathesis on CPython 3.11 (an AST SystemError)
                "--seed",
                "1",
                "--no-color",
                *auth,
            ],
            cwd=ROOT,  # where schemathesis.toml is
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    summary = run.stdout[-3000:]
    failures = run.stdout.partition("= FAILURES =")[2].partition("= WARNINGS =")[0]
    print(summary[-700:])  # the counts, for `pytest -rP`
    assert run.returncode == 0, failures[:20000] + summary
    assert " passed" in summary and "generated" in summary, summary  # it did run cases
