"""One worker-like process for the token tests: the worker's own QBO client (``QboClient.from_settings``
over ``PostgresTokenStore.from_settings``, configured from BQ_* like the worker) makes one API call for a
realm whose stored access token has expired, so it must refresh. Started several times at once, the
processes wait for a start file, so their refreshes overlap. Prints one JSON line; exit 1 on a QBO error.

    python -m tests.integration.token_refresh_process <realm_id> <start_file>
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from bottleneck_qbo.settings import get_settings
from sinks.qbo.auth import PostgresTokenStore
from sinks.qbo.client import QboClient
from sinks.qbo.errors import QboError


async def main(realm_id: str, start_file: Path) -> int:
    settings = get_settings()
    client = QboClient.from_settings(settings, PostgresTokenStore.from_settings(settings))
    try:
        print("ready", flush=True)
        while not start_file.exists():
            await asyncio.sleep(0.002)
        try:
            accounts = await client.query(realm_id, "select * from Account")
        except QboError as exc:
            print(json.dumps({"ok": False, "error": str(exc)}))
            return 1
        print(json.dumps({"ok": True, "accounts": len(accounts), "refreshes": client.tokens.refresh_count}))
        return 0
    finally:
        await client.aclose()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], Path(sys.argv[2]))))
