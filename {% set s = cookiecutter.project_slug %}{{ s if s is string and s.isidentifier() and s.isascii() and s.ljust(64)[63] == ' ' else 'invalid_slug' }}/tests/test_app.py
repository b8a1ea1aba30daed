"""The app answers as the container's clients expect (Flask's test client, no server needed)."""

import pytest

from app import app


@pytest.fixture
def client():
    return app.test_client()


def test_root_says_hello(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "Hello from Docker! 🐳"


def test_health_endpoint(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_unknown_path_is_404(client):
    assert client.get("/missing").status_code == 404
