pytest_plugins = [
    "tests.fixtures.stack",
    "tests.fixtures.sandbox",
    "tests.fixtures.pipeline",
    "tests.fixtures.connect",
]
