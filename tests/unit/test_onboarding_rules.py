"""When a company change starts an initial load (pure rule of bottleneck_qbo.ops.onboarding)."""

from __future__ import annotations

import pytest

from bottleneck_qbo.ops.onboarding import CompanyState, needs_initial_load

LIVE = CompanyState("R1", "live")


@pytest.mark.parametrize(
    ("previous", "current", "expected"),
    [
        (CompanyState("R1", "manual"), LIVE, True),  # manual -> live
        (CompanyState(None, "live"), LIVE, True),  # connected while live
        (None, LIVE, True),  # never seen: a new company, live and connected
        (CompanyState("R0", "live"), LIVE, True),  # moved to another realm
        (LIVE, LIVE, False),  # nothing changed (another column of the row)
        (CompanyState("R1", "live"), CompanyState("R1", "manual"), False),  # live -> manual
        (CompanyState(None, "manual"), CompanyState("R1", "manual"), False),  # connected in manual mode: publish
        (CompanyState("R1", "live"), CompanyState(None, "live"), False),  # disconnected
    ],
)
def test_needs_initial_load(previous: CompanyState | None, current: CompanyState, expected: bool) -> None:
    assert needs_initial_load(previous, current) is expected
