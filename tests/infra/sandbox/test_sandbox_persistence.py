"""With ``sqlite_path`` the QBO sandbox keeps realms, entities and tokens across a restart."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from infra.qbo_sandbox import SandboxConfig
from tests.fixtures.sandbox import RealmInfo, inventory_item, sales_line, start_sandbox

pytestmark = pytest.mark.integration


def test_restart_keeps_state(tmp_path: Path) -> None:
    cfg = SandboxConfig(port=0, sqlite_path=tmp_path / "qbo.sqlite", access_token=SecretStr("t"))
    first = start_sandbox(cfg)
    try:
        realm = first.create_realm(realm_id="4620816365")
        api = realm.client()
        cust = api.create("Customer", {"DisplayName": "Durable"})
        api.post("/customer", {"DisplayName": "Replayed"}, requestid="r-1")
        item = api.create("Item", inventory_item("Stocked", 10))
        inv = api.create("Invoice", {"CustomerRef": {"value": cust["Id"]}, "Line": [sales_line(item["Id"], 4, 1, 4)]})
        gone = api.create("Invoice", {"CustomerRef": {"value": cust["Id"]}, "Line": [sales_line(item["Id"], 1, 1, 1)]})
        api.ok(api.post("/invoice", {"Id": gone["Id"], "SyncToken": "0"}, operation="delete"))
        rotated = httpx.post(
            first.token_url,
            data={"grant_type": "refresh_token", "refresh_token": realm.refresh_token},
            auth=(first.client_id, first.client_secret),
        ).json()
    finally:
        first.stop()
    second = start_sandbox(cfg.model_copy(update={"port": 0}))
    try:
        again = RealmInfo(realm.realm_id, rotated["access_token"], rotated["refresh_token"], second.base_url).client()
        assert again.read("Customer", cust["Id"])["DisplayName"] == "Durable"
        assert again.query("select count(*) from Customer") == {"totalCount": 2}
        again.post("/customer", {"DisplayName": "Replayed"}, requestid="r-1")
        assert again.query("select count(*) from Customer") == {"totalCount": 2}
        nxt = again.create("Customer", {"DisplayName": "After restart"})
        assert int(nxt["Id"]) > int(cust["Id"])
        assert again.read("Item", item["Id"])["QtyOnHand"] == 6
        assert again.read("Invoice", inv["Id"])["Balance"] == 4
        cdc = again.ok(again.get("/cdc", entities="Invoice", changedSince=cust["MetaData"]["CreateTime"]))
        invoices = cdc["CDCResponse"][0]["QueryResponse"][0]["Invoice"]
        assert [(i["Id"], i.get("status")) for i in invoices] == [(inv["Id"], None), (gone["Id"], "Deleted")]
        reused = second.create_realm(realm_id=realm.realm_id)
        assert reused.client().read("Customer", cust["Id"])["DisplayName"] == "Durable"
        old = httpx.post(
            second.token_url,
            data={"grant_type": "refresh_token", "refresh_token": realm.refresh_token},
            auth=(second.client_id, second.client_secret),
        )
        assert old.status_code == 400 and old.json() == {"error": "invalid_grant"}
    finally:
        second.stop()
