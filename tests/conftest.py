"""Shared fixtures: one real index built from examples/articles for the whole session, and apps over it.

Read-only tests use `built_index` (or `app` / `client` over it); tests that write take
`writable_index`, a private copy, so they never disturb the shared one.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from indexer.build import index_paths
from kb.config import Settings
from web import create_app

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "articles"


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    """The bundled demo corpus, examples/articles."""
    return EXAMPLES


@pytest.fixture(scope="session")
def built_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The index folder of examples/articles, built once per test session by the real indexer."""
    index_dir = tmp_path_factory.mktemp("examples-index") / "index"
    index_paths([EXAMPLES], Settings(index_dir=index_dir, parse_workers=1))
    return index_dir


@pytest.fixture
def writable_index(built_index: Path, tmp_path: Path) -> Path:
    """A private copy of the examples index, for tests that add, replace or delete articles."""
    target = tmp_path / "index"
    shutil.copytree(built_index, target, ignore=shutil.ignore_patterns("write.lock*"))
    return target


@pytest.fixture
def app(built_index: Path) -> Flask:
    """The web app over the shared examples index (admin API off: no token)."""
    return create_app(Settings(index_dir=built_index))


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    """A test client of `app`."""
    with app.test_client() as c:
        yield c
