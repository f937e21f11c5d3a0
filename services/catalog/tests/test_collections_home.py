import uuid

import pytest

from aria_catalog.collections import service as collections
from aria_catalog.installs import service as installs

COLLECTIONS = [
    {"slug": "edr-essentials", "name": "EDR essentials", "description": "EDR", "featured": True,
     "integrations": ["c_s1", "c_falcon", "c_not_shipped_yet"]},
    {"slug": "ticketing", "name": "Ticketing", "description": "", "featured": True, "integrations": ["c_jira"]},
    {"slug": "hidden", "name": "Hidden", "description": "", "featured": False, "integrations": ["c_falcon"]},
]


def test_shipped_collections_file_names_real_connectors():
    from importlib.metadata import entry_points

    shipped = collections.load()
    slugs = {c["slug"] for c in shipped}
    assert {"edr-suite", "vulnerability-management", "ticketing"} <= slugs
    # Declared connectors (entry points), whether or not each manifest loads today.
    known = {ep.name for ep in entry_points(group="aria.connectors")}
    for c in shipped:
        assert set(c["integrations"]) <= known, (c["slug"], set(c["integrations"]) - known)


@pytest.mark.parametrize("text, message", [
    ('[[collections]]\nslug = "Bad Slug"\nname = "x"\n', "slug"),
    ('[[collections]]\nslug = "a"\nname = "x"\n[[collections]]\nslug = "a"\nname = "y"\n', "slug"),
    ('[[collections]]\nslug = "a"\nname = ""\n', "name"),
    ('[[collections]]\nslug = "a"\nname = "x"\nintegrations = ["ok", "ok"]\n', "integrations"),
    ('[[collections]]\nslug = "a"\nname = "x"\nintegrations = ["Not A Key"]\n', "integrations"),
])
def test_a_bad_collections_file_fails_loudly(tmp_path, text, message):
    path = tmp_path / "collections.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        collections.load(path)


async def test_collections_and_home(infra, kafka_topics, h):
    org = uuid.uuid4()
    async with h.catalog(infra, [
            h.entry("c_falcon", "Falcon", "CrowdStrike"), h.entry("c_s1", "Singularity", "SentinelOne"),
            h.entry("c_jira", "Jira", "Atlassian", category="itsm"),
            h.entry("c_old", "Old", "Old", category="itsm", deprecated=True)]) as (client, pool, _):
        await collections.sync_collections(pool=pool, collections=COLLECTIONS)
        await installs.record_installation_state(pool=pool, installation_id=uuid.uuid4(), org_id=org,
                                                 integration_key="c_s1", installed=True, revision=1)
        me = h.as_user(infra, org)

        listed = (await client.get("/v1/collections", headers=me)).json()
        assert [(c["slug"], c["tool_count"]) for c in listed] == [("edr-essentials", 2), ("ticketing", 1),
                                                                   ("hidden", 1)]
        edr = (await client.get("/v1/collections/edr-essentials", headers=me)).json()
        assert [(i["key"], i["installed"]) for i in edr["integrations"]] == [("c_s1", True), ("c_falcon", False)]
        await h.problem(await client.get("/v1/collections/nope", headers=me), 404, "collection_not_found")

        # Reviews make the top-rated list: best average first, more reviews break ties.
        for key, ratings in (("c_falcon", [5, 4]), ("c_s1", [5]), ("c_jira", [5, 5])):
            for rating in ratings:
                r = await client.post(f"/v1/integrations/{key}/reviews", json={"rating": rating, "title": "t"},
                                      headers=h.as_user(infra, uuid.uuid4()))
                assert r.status_code == 201, r.text
        home = await client.get("/v1/home", headers=me)
        assert home.status_code == 200, home.text
        body = home.json()
        assert [c["slug"] for c in body["featured_collections"]] == ["edr-essentials", "ticketing"]
        assert body["featured_collections"][0]["tool_count"] == 2
        assert [(i["key"], i["average_rating"], i["installed"]) for i in body["top_rated"]] == [
            ("c_jira", 5.0, False), ("c_s1", 5.0, True), ("c_falcon", 4.5, False)]
        assert body["categories"] == [{"value": "edr", "count": 2}, {"value": "itsm", "count": 1}]
        again = await client.get("/v1/home", headers={**me, "if-none-match": home.headers["etag"]})
        assert again.status_code == 304

        # The file is the source of truth: a collection that leaves it is gone; items follow it.
        await collections.sync_collections(pool=pool, collections=[{**COLLECTIONS[0], "integrations": ["c_falcon"]}])
        listed = (await client.get("/v1/collections", headers=me)).json()
        assert [(c["slug"], c["tool_count"]) for c in listed] == [("edr-essentials", 1)]
        await h.problem(await client.get("/v1/home"), 401, "missing_token")
