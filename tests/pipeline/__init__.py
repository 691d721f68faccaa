"""End-to-end scenarios of issue 4 through the real stack: Bottleneck written with SQL only, QBO checked
through the sandbox's API, one fresh realm per test.

Run: ``.venv/bin/python -m pytest tests/pipeline`` (starts the local stack if needed, about two minutes).
Fixtures are in ``tests/fixtures/pipeline.py``; the session stops any running worker and runs its own.
"""
