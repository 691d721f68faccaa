"""Is one object of a QBO CDC answer drift? A pure decision over what the id map and Bottleneck say.

- ``ours``: QBO's SyncToken is not past the one our last write got back (our own write, or older);
- ``pending``: Bottleneck has changes the engine has not written yet (or a re-drive is already queued:
  no payload hash), or removed the document; the engine's next write settles it, a verdict now would race it;
- ``consequence``: QBO moved the object itself (an estimate closed by its invoice, a balance moved by a
  payment, stock moved by a bill) but every field Bottleneck owns still equals Bottleneck's: not drift,
  the new SyncToken is recorded so the next write is not refused as stale;
- ``drift``: someone else changed a field Bottleneck owns (or deleted the object);
- ``untracked``: not an object this product keeps (no live id map entry);
- ``malformed``: an entry of the answer we cannot read (skipped, logged; never breaks the poll).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["malformed", "untracked", "ours", "pending", "consequence", "drift"]
_QBO_ID = re.compile(r"[0-9]{1,32}")
_TOKEN = re.compile(r"[0-9]{1,18}")


@dataclass(frozen=True)
class Mapped:
    """What the id map holds about the object: the SyncToken and payload hash of our last write."""

    sync_token: str | None
    payload_hash: str | None
    status: str


@dataclass(frozen=True)
class Verdict:
    kind: Kind
    reason: str


def sync_token(value: Any) -> int | None:
    """QBO's SyncToken is a decimal counter sent as a string; anything else is unreadable."""
    if isinstance(value, bool) or value is None:
        return None
    text = str(value)
    return int(text) if _TOKEN.fullmatch(text) else None


def qbo_id(obj: Any) -> str | None:
    if not isinstance(obj, Mapping):
        return None
    value = obj.get("Id")
    return str(value) if value is not None and _QBO_ID.fullmatch(str(value)) else None


def is_deleted(obj: Mapping[str, Any]) -> bool:
    return obj.get("status") == "Deleted"


def classify(
    obj: Any,
    entry: Mapped | None,
    *,
    live_in_bottleneck: bool = True,
    current_hash: str | None = None,
    differences: Sequence[object] = (),
) -> Verdict:
    """The verdict on one CDC object. ``current_hash`` is the payload hash of the document Bottleneck
    holds now (as the engine would send it); ``differences`` are the owned fields where QBO's object
    differs from it (the reconcile comparison)."""
    if qbo_id(obj) is None:
        return Verdict("malformed", "no readable Id")
    assert isinstance(obj, Mapping)
    if entry is None or entry.status != "synced":
        return Verdict("untracked", "no live id map entry")
    if not live_in_bottleneck:
        return Verdict("pending", "removed or not publishable in Bottleneck: the remove path owns it")
    deleted = is_deleted(obj)
    if not deleted:
        theirs = sync_token(obj.get("SyncToken"))
        if theirs is None:
            return Verdict("malformed", f"unreadable SyncToken {str(obj.get('SyncToken'))[:20]!r}")
        ours = sync_token(entry.sync_token)
        if ours is not None and theirs <= ours:
            return Verdict("ours", f"SyncToken {theirs} is not past our last write's {ours}")
    if entry.payload_hash is None or current_hash != entry.payload_hash:
        return Verdict("pending", "Bottleneck has changes not yet written (or a re-drive is queued)")
    if deleted:
        return Verdict("drift", "deleted in QuickBooks")
    if differences:
        return Verdict("drift", f"{len(differences)} field(s) Bottleneck owns changed in QuickBooks")
    return Verdict("consequence", "changed by QuickBooks itself; every field Bottleneck owns is unchanged")
