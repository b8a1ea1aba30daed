{%- set database = cookiecutter.database == "postgres" -%}
"""Fixtures for every test: the app built for testing, and Flask's test client.
{%- if database %}
Tests that use the database get one of their own, on the server DATABASE_URL names.
{%- endif %}"""
{%- if database %}

import os
{%- endif %}

import pytest
{%- if database %}
from alembic import command
from sqlalchemy import create_engine, text
{%- endif %}

from {{ cookiecutter.project_slug }} import create_app
{%- if database %}, database
{%- endif %}


@pytest.fixture
def app():
    return create_app({"TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()
{%- if database %}


@pytest.fixture(scope="session")
def test_database():
    """DATABASE_URL's database with "_test" added to its name, made if missing and migrated:
    the tests never touch the app's data. Without DATABASE_URL they are skipped, except in CI."""
    if not ({"DATABASE_URL", "DATABASE_URL_FILE"} & set(os.environ)):
        missing = "a PostgreSQL server for these tests: set DATABASE_URL (README.md, Database)"
        (pytest.fail if os.environ.get("CI") else pytest.skip)(missing)
    url = database.url()
    test = url.set(database=f"{url.database}_test")
    server = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        query = text("SELECT 1 FROM pg_database WHERE datname = :name")
        if not connection.scalar(query, {"name": test.database}):
            connection.execute(text(f'CREATE DATABASE "{test.database}"'))
    server.dispose()
    os.environ.pop("DATABASE_URL_FILE", None)
    os.environ["DATABASE_URL"] = test.render_as_string(hide_password=False)
    database.engine.cache_clear()
    command.upgrade(database.migrations(), "head")
    return test


@pytest.fixture
def db(test_database):
    """A clean database for each test."""
    with database.engine().begin() as connection:
        connection.execute(text("TRUNCATE notes RESTART IDENTITY"))
{%- endif %}
