"""Shared pytest plugins: every fixture module is registered here (each concern adds its module), so test
modules never import fixtures (an imported fixture shadows the argument of the same name, ruff F811)."""

pytest_plugins = [
    "tests.fixtures.stack",
    "tests.fixtures.pipeline",
    "tests.fixtures.private_pg",
    "tests.fixtures.sandbox",
    "tests.integration.sync_support",
    "tests.integration.inbound_support",
]
