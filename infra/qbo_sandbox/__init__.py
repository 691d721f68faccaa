"""A local QuickBooks Online (Accounting API v3) sandbox for development and tests.

``create_app(config)`` builds the aiohttp application; ``run(config)`` serves it. See ``app.py`` for the
request pipeline, ``rules/`` for QBO's business rules and the choices made where the reference is unsure.
"""

from infra.qbo_sandbox.app import create_app, run
from infra.qbo_sandbox.config import SandboxConfig

__all__ = ["SandboxConfig", "create_app", "run"]
