"""Shared pytest plugins (each concern adds its module here)."""

pytest_plugins = ["tests.fixtures.stack", "tests.fixtures.pipeline", "tests.fixtures.private_pg"]
