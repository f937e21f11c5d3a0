import uuid

import pytest

from aria_catalog.installs import service as installs


FALCON_CRITERIA = {"auth": "pass", "error_classification": "pass", "health": "pass", "incremental": "pass",
                   "ingest": "pass", "manifest": "pass", "preview": "pass", "push": "n/a", "rate_limits": "pass",
                   "replay": "pass", "webhooks": "n/a"}
SPLUNK_PUSH = [{"name": "send_alert", "kind": "send_event", "input": "alert", "description": "Alert to a HEC index."}]


def dataset(entry):
    named = [
        entry("t_cs_falcon", "CrowdStrike Falcon", "CrowdStrike", product="Falcon Insight XDR",
              description="Falcon alerts and managed hosts.", data_types=["risk", "asset"],
              capabilities=["sync", "incremental", "test_connection", "health_check"],
              auth_methods=["oauth2_client_credentials"], quality_tier="silver", quality_criteria=FALCON_CRITERIA,
              key_features=["Detections as risks", "Hosts as assets", "Incremental sync"],
              required_permissions=["Alerts: Read", "Hosts: Read"], setup_minutes=10),
        entry("t_s1", "SentinelOne Singularity", "SentinelOne", description="Threats and agents.",
              capabilities=["sync", "webhook"], supports_webhook=True, data_types=["alert", "asset"],
              quality_tier="gold"),
        entry("t_tenable", "Tenable Vulnerability Management", "Tenable", category="vulnerability_management",
              description="Vulnerability findings and assets from Tenable.io.", data_types=["vulnerability", "asset"],
              quality_tier="bronze"),
        entry("t_splunk", "Splunk Enterprise Security", "Splunk", category="siem", capabilities=["push_actions"],
              data_types=["alert"], pricing_model="paid", official=False, community=True, quality_tier="gold",
              push_actions=SPLUNK_PUSH),
        entry("t_sentinel", "Microsoft Sentinel", "Microsoft", category="siem", capabilities=["push_actions", "sync"],
              data_types=["alert"], auth_methods=["oauth2_client_credentials"], beta=True, quality_tier="silver"),
        entry("t_rf", "Recorded Future", "Recorded Future", category="threat_intelligence",
              data_types=["indicator"], pricing_model="freemium"),
        entry("t_okta", "Okta Workforce Identity", "Okta", category="identity", data_types=["asset"]),
        entry("t_snow", "ServiceNow ITSM", "ServiceNow", category="itsm", capabilities=["push_actions"],
              data_types=["alert"], auth_methods=["basic"]),
        entry("t_old", "Legacy Scanner", "OldCorp", category="vulnerability_management", deprecated=True),
    ]
    filler = [entry(f"t_filler_{i:02d}", f"Example Connector {i:02d}", "Example Inc",
                    category="custom", official=False, community=True) for i in range(17)]
    return named + filler


@pytest.fixture(scope="module")
async def api(infra, kafka_topics, h):
    async with h.catalog(infra, dataset(h.entry)) as (client, pool, _):
        yield client, pool


@pytest.fixture
def client(api):
    return api[0]


async def test_typo_search_finds_crowdstrike_and_ranks_it_first(client, infra, h, org):
    # "insigt": a typo of a product word the name does not hold (search_trigrams keeps such a product).
    for q in ("crowdstrik", "CrowdStrike", "falcon", "crowd", "insigt"):
        r = await client.get("/v1/integrations", params={"q": q}, headers=h.as_user(infra, org))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["sort"] == "relevance" and body["items"][0]["key"] == "t_cs_falcon", (q, body["items"])
    r = await client.get("/v1/integrations", params={"q": "vulnerability findings"}, headers=h.as_user(infra, org))
    assert [i["key"] for i in r.json()["items"]] == ["t_tenable"]
    r = await client.get("/v1/integrations", params={"q": "zzqqxx"}, headers=h.as_user(infra, org))
    assert r.json()["items"] == [] and r.json()["next_cursor"] is None


async def test_filters_combine(client, infra, h, org):
    async def keys(**params):
        r = await client.get("/v1/integrations", params=params, headers=h.as_user(infra, org))
        assert r.status_code == 200, r.text
        return {i["key"] for i in r.json()["items"]}

    assert await keys(category="siem") == {"t_splunk", "t_sentinel"}
    assert await keys(category="siem,itsm") == {"t_splunk", "t_sentinel", "t_snow"}
    assert await keys(capability=["push_actions", "sync"]) == {"t_sentinel"}
    assert await keys(data_type="indicator") == {"t_rf"}
    assert await keys(auth_method="oauth2_client_credentials") == {"t_cs_falcon", "t_sentinel"}
    assert await keys(pricing_model="paid") == {"t_splunk"}
    assert await keys(beta="true") == {"t_sentinel"}
    assert await keys(category="siem", official="false") == {"t_splunk"}
    assert "t_old" not in await keys(category="vulnerability_management")
    assert await keys(category="vulnerability_management", include_deprecated="true") == {"t_tenable", "t_old"}
    assert await keys(category="soar") == set(), "a known category without connectors is an empty page"


async def test_filter_by_quality_tier(client, infra, h, org):
    headers = h.as_user(infra, org)

    async def items(**params):
        r = await client.get("/v1/integrations", params={**params, "limit": 100}, headers=headers)
        assert r.status_code == 200, r.text
        return {i["key"]: i["quality_tier"] for i in r.json()["items"]}

    assert await items(quality_tier="gold") == {"t_s1": "gold", "t_splunk": "gold"}
    assert set(await items(quality_tier="gold,silver")) == {"t_s1", "t_splunk", "t_cs_falcon", "t_sentinel"}
    assert set(await items(quality_tier=["gold", "bronze"], category="siem")) == {"t_splunk"}
    unrated = await items(quality_tier="unrated")
    assert len(unrated) == 20 and set(unrated.values()) == {"unrated"}, "the deprecated one is left out"
    assert set(await items(quality_tier="bronze", include_deprecated="true")) == {"t_tenable"}
    # Every item says its tier, filtered or not; the home page's and collections' summaries too.
    everything = await items()
    assert everything["t_cs_falcon"] == "silver" and everything["t_filler_00"] == "unrated"


async def test_facets_count_per_quality_tier(client, infra, h, org):
    headers = h.as_user(infra, org)
    f = (await client.get("/v1/integrations/facets", headers=headers)).json()
    assert f["quality_tier"] == [{"value": "gold", "count": 2}, {"value": "silver", "count": 2},
                                 {"value": "bronze", "count": 1}, {"value": "unrated", "count": 20}], \
        "best tier first, not by count"
    # Disjunctive: a chosen tier narrows the other dimensions and the total, not the tier counts.
    r = await client.get("/v1/integrations/facets", params={"quality_tier": "gold"}, headers=headers)
    f = r.json()
    assert r.status_code == 200 and f["total"] == 2
    assert {x["value"]: x["count"] for x in f["quality_tier"]}["unrated"] == 20
    assert {x["value"]: x["count"] for x in f["category"]} == {"edr": 1, "siem": 1}
    r = await client.get("/v1/integrations/facets", params={"category": "siem"}, headers=headers)
    assert r.json()["quality_tier"] == [{"value": "gold", "count": 1}, {"value": "silver", "count": 1}]


async def test_installed_filter_is_per_organization(api, infra, h):
    client, pool = api
    mine, other = uuid.uuid4(), uuid.uuid4()
    await installs.record_installation_state(pool=pool, installation_id=uuid.uuid4(), org_id=mine,
                                             integration_key="t_okta", installed=True, revision=1)
    r = await client.get("/v1/integrations", params={"installed": "true"}, headers=h.as_user(infra, mine))
    assert [i["key"] for i in r.json()["items"]] == ["t_okta"] and r.json()["items"][0]["installed"] is True
    r = await client.get("/v1/integrations", params={"installed": "true"}, headers=h.as_user(infra, other))
    assert r.json()["items"] == []
    r = await client.get("/v1/integrations", params={"installed": "false", "category": "identity"},
                         headers=h.as_user(infra, mine))
    assert r.json()["items"] == []
    detail = await client.get("/v1/integrations/t_okta", headers=h.as_user(infra, mine))
    assert detail.json()["installed"] is True and detail.json()["install_count"] == 1


async def test_facets_count_per_category_and_capability(client, infra, h, org):
    r = await client.get("/v1/integrations/facets", headers=h.as_user(infra, org))
    assert r.status_code == 200, r.text
    f = r.json()
    assert f["total"] == 25  # the deprecated one is left out
    categories = {x["value"]: x["count"] for x in f["category"]}
    assert categories["custom"] == 17 and categories["siem"] == 2 and categories["edr"] == 2
    assert "vulnerability_management" in categories and categories["vulnerability_management"] == 1
    capabilities = {x["value"]: x["count"] for x in f["capability"]}
    assert capabilities["push_actions"] == 3 and capabilities["webhook"] == 1

    # Disjunctive: choosing a category narrows the other dimensions but not the category counts.
    r = await client.get("/v1/integrations/facets", params={"category": "siem"}, headers=h.as_user(infra, org))
    f = r.json()
    assert f["total"] == 2 and {x["value"]: x["count"] for x in f["category"]}["custom"] == 17
    assert {x["value"]: x["count"] for x in f["capability"]} == {"push_actions": 2, "sync": 1}


@pytest.mark.parametrize("params", [
    {"sort": "name"}, {"sort": "installs"}, {"sort": "rating"}, {"sort": "updated"},
    {"q": "example connector", "sort": "relevance"}, {"category": "custom", "sort": "name"},
    {"quality_tier": "unrated", "sort": "installs"}, {"quality_tier": "gold,unrated", "sort": "name"},
])
async def test_pagination_walks_every_entry_once(client, infra, h, org, params):
    headers = h.as_user(infra, org)
    everything = (await client.get("/v1/integrations", params={**params, "limit": 100}, headers=headers)).json()
    assert everything["next_cursor"] is None
    seen, cursor, pages = [], None, 0
    while True:
        r = await client.get("/v1/integrations", params={**params, "limit": 4, **({"cursor": cursor} if cursor else {})},
                             headers=headers)
        assert r.status_code == 200, r.text
        seen += [i["key"] for i in r.json()["items"]]
        pages += 1
        cursor = r.json()["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)), "no duplicates across pages"
    assert seen == [i["key"] for i in everything["items"]], "pages concatenate to the single-page order"
    assert pages == max(1, -(-len(seen) // 4)), "the last full page already says there is no next page"
    if params.get("sort") == "name" and len(params) == 1:
        assert len(seen) == 25 and seen == sorted(seen, key=lambda k: next(
            i["name"].lower() for i in everything["items"] if i["key"] == k))


async def test_etag_and_if_none_match(client, infra, h, org):
    headers = h.as_user(infra, org)
    for path, params in (("/v1/integrations", {"category": "siem"}), ("/v1/integrations/t_cs_falcon", {}),
                         ("/v1/integrations/facets", {})):
        first = await client.get(path, params=params, headers=headers)
        etag = first.headers["etag"]
        assert first.status_code == 200 and etag.startswith('"')
        assert "private" in first.headers["cache-control"]
        again = await client.get(path, params=params, headers={**headers, "if-none-match": etag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
        weak = await client.get(path, params=params, headers={**headers, "if-none-match": f'"x", W/{etag}'})
        assert weak.status_code == 304
        stale = await client.get(path, params=params, headers={**headers, "if-none-match": '"stale"'})
        assert stale.status_code == 200 and stale.json() == first.json()


async def test_detail_has_configuration_requirements(client, infra, h, org):
    r = await client.get("/v1/integrations/t_cs_falcon", headers=h.as_user(infra, org))
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["name"] == "CrowdStrike Falcon" and d["license_required"] is True and d["secret_fields"] == ["api_key"]
    reqs = {x["field"]: x for x in d["configuration_requirements"]}
    assert reqs["api_key"]["secret"] and reqs["api_key"]["required"] and "default" not in reqs["api_key"]
    assert reqs["base_url"] == {"field": "base_url", "type": "string", "title": "API base URL", "description": None,
                                "required": True, "secret": False, "format": "uri",
                                "default": "https://api.example.com"}
    assert reqs["page_size"]["type"] == "integer" and not reqs["page_size"]["required"]
    assert d["quality_tier"] == "silver" and d["quality_criteria"] == FALCON_CRITERIA
    assert list(d["quality_criteria"]) == sorted(FALCON_CRITERIA), "by name, not jsonb's key order"
    assert d["key_features"] == ["Detections as risks", "Hosts as assets", "Incremental sync"], "manifest order"
    assert d["required_permissions"] == ["Alerts: Read", "Hosts: Read"] and d["setup_minutes"] == 10
    assert d["push_actions"] == [] and d["streams"] == ["items"] and d["data_types"] == ["asset", "risk"]
    assert d["usage_stats"]["average_setup_time_s"] is None, "the measured average stays next to the manifest's"
    splunk = (await client.get("/v1/integrations/t_splunk", headers=h.as_user(infra, org))).json()
    assert splunk["push_actions"] == SPLUNK_PUSH and splunk["quality_tier"] == "gold"
    assert splunk["key_features"] == [] and splunk["setup_minutes"] is None and splunk["quality_criteria"] == {}
    # Deprecated entries stay readable.
    assert (await client.get("/v1/integrations/t_old", headers=h.as_user(infra, org))).json()["is_deprecated"]


async def test_bad_inputs_are_problems(client, infra, h, org):
    headers = h.as_user(infra, org)
    body = await h.problem(await client.get("/v1/integrations", params={"category": "edrr"}, headers=headers),
                          400, "unknown_filter_value")
    assert body["parameter"] == "category" and "edr" in body["allowed"]
    await h.problem(await client.get("/v1/integrations", params={"capability": "teleport"}, headers=headers),
                   400, "unknown_filter_value")
    await h.problem(await client.get("/v1/integrations/facets", params={"data_type": "x"}, headers=headers),
                   400, "unknown_filter_value")
    for path in ("/v1/integrations", "/v1/integrations/facets"):
        body = await h.problem(await client.get(path, params={"quality_tier": "gold,platinum"}, headers=headers),
                               400, "unknown_filter_value")
        assert body["parameter"] == "quality_tier" and body["allowed"] == ["bronze", "gold", "silver", "unrated"]
    await h.problem(await client.get("/v1/integrations", params={"sort": "random"}, headers=headers), 400, "invalid_sort")
    await h.problem(await client.get("/v1/integrations", params={"catgory": "edr"}, headers=headers),
                   400, "unknown_parameter")
    await h.problem(await client.get("/v1/integrations", params={"q": "!!!"}, headers=headers), 400, "invalid_query")
    for cursor in ("not base64 at all!", "e30", "eyJ2IjoxfQ", "bm90IGpzb24"):
        await h.problem(await client.get("/v1/integrations", params={"cursor": cursor}, headers=headers),
                       400, "invalid_cursor")
    # A cursor only continues the search that issued it.
    page = (await client.get("/v1/integrations", params={"limit": 2}, headers=headers)).json()
    await h.problem(await client.get("/v1/integrations", params={"limit": 2, "cursor": page["next_cursor"],
                                                                 "category": "custom"}, headers=headers),
                   400, "invalid_cursor")
    await h.problem(await client.get("/v1/integrations", params={"limit": 0}, headers=headers), 422, "validation_error")
    await h.problem(await client.get("/v1/integrations", params={"limit": 101}, headers=headers), 422, "validation_error")
    await h.problem(await client.get("/v1/integrations/nope", headers=headers), 404, "integration_not_found")
    for path in ("/v1/integrations", "/v1/integrations/facets", "/v1/integrations/t_cs_falcon"):
        unauth = await h.problem(await client.get(path), 401, "missing_token")
        assert unauth["status"] == 401
    await h.problem(await client.get("/v1/integrations", headers={"authorization": "Bearer junk"}), 401, "invalid_token")


async def test_openapi_documents_every_endpoint_with_summary_and_examples(client):
    spec = (await client.get("/openapi.json")).json()
    for path in ("/v1/integrations", "/v1/integrations/facets", "/v1/integrations/{key}"):
        op = spec["paths"][path]["get"]
        assert op["summary"]
        assert "example" in op["responses"]["200"]["content"]["application/json"]
        assert {"304", "401"} <= set(op["responses"])


async def test_openapi_documents_every_marketplace_endpoint(client):
    spec = (await client.get("/openapi.json")).json()
    operations = [(path, method, op) for path, ops in spec["paths"].items() for method, op in ops.items()
                  if path.startswith(("/v1/", "/internal/"))]
    assert len(operations) >= 15
    for path, method, op in operations:
        where = f"{method.upper()} {path}"
        assert op.get("summary") and op.get("description"), where
        success = [code for code in op["responses"] if code.startswith("2")]
        assert success, where
        if success != ["204"]:
            assert any("example" in body for code in success
                       for body in op["responses"][code].get("content", {}).values()), where
        errors = [code for code in op["responses"] if code.startswith("4")]
        assert "401" in errors and len(errors) >= 1, where
        for code in errors:
            assert "example" in op["responses"][code]["content"]["application/problem+json"], (where, code)
