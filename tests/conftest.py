"""Test session set-up: the servers and services the tests start are plugins below.

Tests run in development mode: the development secrets are accepted (shared/settings.py
refuses them anywhere else), and the services started by fixtures inherit it.
"""

import os

os.environ.setdefault("RX_ENV", "development")

pytest_plugins = [
    "tests.fixtures.stack",
    "tests.fixtures.sandbox",
    "tests.fixtures.pipeline",
    "tests.fixtures.connect",
]
