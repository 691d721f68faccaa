"""Sends an agent waits on before it acknowledges the record that caused them.

An agent may move its offset past a record only once that record's outcome is durable: the broker has
acknowledged (acks=all) the document touch, the payment or the dead letter. ``send_acked`` awaits the
broker's acknowledgement (the send's future, not just the producer's buffer) and, when the broker
refuses or cannot be reached, retries with a growing pause instead of returning: the agent, and with
it the record's offset, waits; a worker stopped meanwhile leaves the record unacknowledged, and it is
read again after the restart. Nothing is acknowledged without an outcome.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Protocol, cast

from streams.deadletter import DeadLetter

if TYPE_CHECKING:
    from faust.streams import Stream
    from faust.types import StreamT

log = logging.getLogger(__name__)

RETRY_BASE_S = 0.5
RETRY_MAX_S = 30.0


class _Topic(Protocol):
    async def send(self, *, key: bytes | None = ..., value: bytes | None = ...) -> Any: ...


async def send_once(topic: _Topic, key: bytes | None, value: bytes) -> None:
    """One send, returning when the broker acknowledged it; raises what the producer raised."""
    fut = await topic.send(key=key, value=value)
    await fut


async def send_acked(topic: _Topic, key: bytes | None, value: bytes, *, what: str = "record") -> None:
    """Send and wait for the broker's acknowledgement, retrying until it comes (see the module doc)."""
    attempt = 0
    while True:
        try:
            await send_once(topic, key, value)
            if attempt:
                log.warning("delivery: %s sent after %d failed attempt(s)", what, attempt)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            delay = min(RETRY_MAX_S, RETRY_BASE_S * 2**attempt)
            attempt += 1
            log.error(
                "delivery: sending %s failed (attempt %d), not acknowledging its source; retrying in %.1fs: %r", what, attempt, delay, exc
            )
            await asyncio.sleep(delay)


SMALL_LETTER_BYTES = 65_536  # when the broker refuses even a capped letter (a topic with a lower max.message.bytes)


async def send_dead_letter(topic: _Topic, letter: DeadLetter, max_bytes: int) -> None:
    """A dead letter, capped to ``max_bytes`` (truncated with a pointer to the original record); if the
    broker still finds it too large, capped again to a small size. Retries like ``send_acked``."""
    what = f"dead letter ({letter.stage}/{letter.failure_type})"
    try:
        await send_once(topic, letter.key(), letter.to_bytes(max_bytes))
        return
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        if "toolarge" not in type(exc).__name__.lower():
            log.error("delivery: sending %s failed, retrying: %r", what, exc)
            await send_acked(topic, letter.key(), letter.to_bytes(max_bytes), what=what)
            return
        log.error("delivery: the broker refused %s as too large (%r); sending it cut to %d bytes", what, exc, SMALL_LETTER_BYTES)
    await send_acked(topic, letter.key(), letter.to_bytes(SMALL_LETTER_BYTES), what=what)


def manual_ack(stream: StreamT[Any]) -> StreamT[Any]:
    """The stream with automatic acks off: the agent acks each event once its outcome is durable.
    (``StreamT``, the protocol agents are typed with, does not declare ``noack``; Faust's Stream has it.)"""
    return cast("Stream[Any]", stream).noack()
