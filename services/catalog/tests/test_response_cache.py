"""Cached list / search / facet answers never outlive the change that made them stale, on any worker."""

import uuid

from aria_catalog.installs import service as installs
from aria_catalog.registry_sync import service as registry_sync


async def test_a_change_through_one_worker_is_seen_at_once_through_another(infra, kafka_topics, h):
    database = await h.new_database(infra)
    org, key = uuid.uuid4(), f"rc_{uuid.uuid4().hex[:8]}"
    entries = [h.entry(key, "Cachewatch Probe", "Cachewatch"), h.entry(key + "_b", "Cachewatch Other", "Cachewatch")]
    worker_a, a_cm = h.app_client(infra, database)
    worker_b, b_cm = h.app_client(infra, database)
    me = h.as_user(infra, org)
    async with a_cm as a, b_cm as b:
        await registry_sync.sync_catalog(pool=worker_b.state.runtime.pool, entries=entries)

        async def item(path="/v1/integrations", **params):
            page = (await a.get(path, params={"q": "cachewatch", "sort": "name", **params}, headers=me)).json()
            return {i["key"]: i for i in page["items"]}.get(key)

        async def facet_total(**params):
            return (await a.get("/v1/integrations/facets", params={"q": "cachewatch", **params},
                                headers=me)).json()["total"]

        first = await item()
        assert first == await item(), "the same answer again (from the cache)"
        assert first["review_count"] == 0 and first["installed"] is False
        assert await facet_total(installed="true") == 0

        # A review written through worker B moves the aggregate worker A shows.
        r = await b.post(f"/v1/integrations/{key}/reviews", headers=h.as_user(infra, uuid.uuid4()),
                         json={"rating": 4, "title": "Solid"})
        assert r.status_code == 201, r.text
        assert (await item())["review_count"] == 1 and (await item())["average_rating"] == 4.0

        # An installation recorded by another process: installed flag, install count and the filter.
        await installs.record_installation_state(pool=worker_b.state.runtime.pool, installation_id=uuid.uuid4(),
                                                 org_id=org, integration_key=key, installed=True, revision=1)
        now = await item()
        assert now["installed"] is True and now["install_count"] == 1
        assert await facet_total(installed="true") == 1
        other_org = (await a.get("/v1/integrations", params={"q": "cachewatch"},
                                 headers=h.as_user(infra, uuid.uuid4()))).json()
        assert all(i["installed"] is False for i in other_org["items"]), "installed is per organization"

        # A registry change (new version, deprecation) too.
        await registry_sync.sync_catalog(pool=worker_b.state.runtime.pool,
                                         entries=[{**entries[0], "version": "2.0.0"}])
        assert (await item())["version"] == "2.0.0"
        assert await facet_total() == 1, "the removed connector left the default listing"


async def test_an_integration_changed_on_one_page_is_changed_on_every_page_it_is_on(infra, kafka_topics, h):
    """Pages share each integration's cached JSON: a page asked for the first time after a change
    (a new query) must not show the integration as some earlier page read it."""
    database = await h.new_database(infra)
    key = f"ic_{uuid.uuid4().hex[:8]}"
    entries = [h.entry(key, "Itemcache Probe", "Itemcache"), h.entry(key + "_b", "Itemcache Other", "Itemcache")]
    app, cm = h.app_client(infra, database)
    me = h.as_user(infra, uuid.uuid4())
    async with cm as client:
        await registry_sync.sync_catalog(pool=app.state.runtime.pool, entries=entries)

        async def item(**params):
            page = (await client.get("/v1/integrations", params=params, headers=me)).json()
            return {i["key"]: i for i in page["items"]}[key]

        before = await item(q="itemcache", sort="name")
        r = await client.post(f"/v1/integrations/{key}/reviews", headers=h.as_user(infra, uuid.uuid4()),
                              json={"rating": 2, "title": "Meh"})
        assert r.status_code == 201, r.text
        for params in ({"q": "itemcache", "sort": "rating"}, {"q": "itemcache", "limit": 5},
                       {"q": "itemcache", "sort": "name"}):
            after = await item(**params)
            assert (after["review_count"], after["average_rating"]) == (1, 2.0), params
            assert {**after, "review_count": 0, "average_rating": 0.0} == before, "only the review moved"
