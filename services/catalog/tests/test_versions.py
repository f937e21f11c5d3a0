"""Version history: GET /v1/integrations/{key}/versions, newest first, keyset-paged."""

import uuid

from aria_catalog.registry_sync import service as registry_sync


async def test_version_history_is_newest_first_and_paged(infra, kafka_topics, h):
    database = await h.new_database(infra)
    app, client_cm = h.app_client(infra, database)
    key = f"vh_{uuid.uuid4().hex[:10]}"
    headers = h.as_user(infra, uuid.uuid4())
    async with client_cm as client:
        pool = app.state.runtime.pool
        for version in ("1.0.0", "1.1.0", "2.0.0"):
            await registry_sync.sync_catalog(pool=pool, entries=[h.entry(key, "Version Probe", "Probe",
                                                                           version=version)])
        first = await client.get(f"/v1/integrations/{key}/versions", params={"limit": 2}, headers=headers)
        assert first.status_code == 200, first.text
        page = first.json()
        assert [(v["change"], v["version"], v["previous_version"]) for v in page["items"]] == [
            ("version_changed", "2.0.0", "1.1.0"), ("version_changed", "1.1.0", "1.0.0")]
        rest = (await client.get(f"/v1/integrations/{key}/versions", params={"cursor": page["next_cursor"]},
                                 headers=headers)).json()
        assert [(v["change"], v["version"]) for v in rest["items"]] == [("added", "1.0.0")]
        assert rest["next_cursor"] is None

        await h.problem(await client.get("/v1/integrations/nope_nope/versions", headers=headers), 404,
                        "integration_not_found")
        await h.problem(await client.get(f"/v1/integrations/{key}/versions", params={"cursor": "x"}, headers=headers),
                        400, "invalid_cursor")
        await h.problem(await client.get(f"/v1/integrations/{key}/versions", params={"sort": "x"}, headers=headers),
                        400, "unknown_parameter")
        assert (await client.get(f"/v1/integrations/{key}/versions")).status_code == 401
