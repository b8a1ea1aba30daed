"""Fixtures for every test: the app built for testing, and Flask's test client."""

import pytest

from {{ cookiecutter.project_slug }} import create_app


@pytest.fixture
def app():
    return create_app({"TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()
