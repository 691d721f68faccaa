"""The status page in a real headless Chromium (Debian's chromium + chromium-driver, driven by Selenium):
a Bottleneck record that dead-letters shows up with its reason; fixed and re-driven from the CLI, the
same row turns synced and links to the QBO object."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from bottleneck_qbo.demo import seed
from tests.fixtures.pipeline import Company, Pipeline, Qbo, wait_until

pytestmark = pytest.mark.integration

CHROMIUM = os.environ.get("BQ_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("BQ_CHROMEDRIVER", "/usr/bin/chromedriver")
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "status-page.png"


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    assert Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists(), (
        f"{CHROMIUM} / {CHROMEDRIVER} missing: apt-get install -y chromium chromium-driver (infra/install-prereqs.sh does)"
    )
    profile = tempfile.mkdtemp(prefix="bq-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1400,1000",
        f"--user-data-dir={profile}",
    ):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bottleneck_qbo", *argv], capture_output=True, text=True, timeout=60)


# The page re-renders every 2 s: read a row's state in one script call (element handles would go stale).
_ROWS_JS = """
return [...document.querySelectorAll('tr[data-testid="problem"]')].map((tr) => ({
  letter_id: tr.dataset.letterId, state: tr.dataset.state, entity: tr.dataset.entity, local_id: tr.dataset.localId,
  reason: (tr.querySelector('[data-testid="reason"]') || {}).textContent || "",
  link: (tr.querySelector('[data-testid="qbo-link"]') || {}).href || "",
}));
"""


def _row(driver: webdriver.Chrome, entity: str, local_id: int) -> dict[str, str] | None:
    rows: list[dict[str, str]] = driver.execute_script(_ROWS_JS)
    return next((r for r in rows if r["entity"] == entity and r["local_id"] == str(local_id) and r["letter_id"]), None)


async def test_dead_letter_seen_on_the_page_then_redriven_and_synced(
    pipeline: Pipeline, db: psycopg.Connection[Any], company: Company, qbo: Qbo, browser: webdriver.Chrome
) -> None:
    long_name = f"Too long {company.tag} " + "x" * 520  # QBO allows 500 characters in DisplayName (API reference)
    customer = seed.customer(db, company.id, long_name)

    browser.get(f"http://{pipeline.settings.admin_host}:{pipeline.settings.admin_port}/?company={company.id}")
    row = wait_until(lambda: _row(browser, "customer", customer), timeout=60, what="the dead letter on the status page")
    assert row is not None
    letter_id = row["letter_id"]
    assert row["state"] == "open"
    assert "QuickBooks allows 500" in row["reason"]
    assert Select(browser.find_element(By.ID, "company")).first_selected_option.get_attribute("value") == str(company.id)
    if os.environ.get("BQ_UPDATE_SCREENSHOT") == "1":
        SCREENSHOT.parent.mkdir(exist_ok=True)
        browser.save_screenshot(str(SCREENSHOT))

    # The person reads the reason, fixes the row in Bottleneck and re-drives the letter from the CLI.
    db.execute("update customers set name = %s, updated_at = now() where id = %s", (f"Fixed {company.tag}", customer))
    done = _cli("deadletters", "retry", letter_id)
    assert done.returncode == 0, done.stderr
    assert f"re-drove {letter_id}" in done.stdout

    def synced() -> dict[str, str] | None:
        r = _row(browser, "customer", customer)
        return r if r is not None and r["state"] == "synced" else None

    turned = wait_until(synced, timeout=60, what="the letter's row turned synced")
    assert turned is not None
    link = turned["link"]
    qbo_customer = await qbo.wait_one("Customer", f"DisplayName = 'Fixed {company.tag}'")
    assert link.endswith(f"/v3/company/{company.realm}/customer/{qbo_customer['Id']}")
    if os.environ.get("BQ_UPDATE_SCREENSHOT") == "1":
        browser.save_screenshot(str(SCREENSHOT.with_name("status-page-synced.png")))

    # Re-driven once: the next `retry --all` leaves it alone.
    again = _cli("deadletters", "retry", "--all", "--company", str(company.id), "--dry-run")
    assert again.returncode == 0, again.stderr
    assert letter_id not in again.stdout
