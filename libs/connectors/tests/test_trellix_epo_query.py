"""Trellix ePO's hooks (vendors/trellix_epo/connector.py): the page size goes into the select's
(top n), an offset (events without AutoID) is skipped client-side, IPV4x integers are decoded."""

from __future__ import annotations

import uuid

from aria_connectors import registry
from aria_connectors.sdk import InstallationContext
from aria_connectors.vendors.trellix_epo.connector import ipv4_of

EPO = registry.get("trellix_epo")


def test_top_offset_and_ipv4x():
    st, se = EPO.split_config({"base_url": "https://epo.example:8443/remote", "username": "u", "password": "p"})
    inst = EPO.create(InstallationContext(uuid.uuid4(), uuid.uuid4(), "trellix_epo"), st, se, None)
    params, _ = inst.page_request("events", {"select": "(select EPOEvents.AutoID)", "aria_offset": 2, "aria_top": 5,
                                             "where": "(where (ge EPOEvents.AutoID 7))"}, None)
    assert params == {"select": "(select (top 7) EPOEvents.AutoID)", "where": "(where (ge EPOEvents.AutoID 7))"}
    assert inst.page_body("events", [1, 2, 3, 4]) == [3, 4]
    assert inst.page_body("events", [1, 2]) == [1, 2]  # the skip is used once
    assert ipv4_of(1084752230) == "192.168.1.102"  # the recorded TIE server
    assert ipv4_of(-1963057021) == "10.254.32.131"  # = the recorded 0:0:0:0:0:FFFF:AFE:2083
    assert ipv4_of(None) is None
