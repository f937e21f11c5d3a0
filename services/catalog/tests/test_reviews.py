import asyncio
import json
import uuid

import pytest

from aria_catalog.installs import service as installs
from aria_catalog.registry_sync import service as registry_sync

KEY, OTHER = "rv_falcon", "rv_tenable"
COUNTS = "SELECT average_rating::text, review_count FROM integration_catalog WHERE key = $1"


@pytest.fixture(scope="module")
async def api(infra, kafka_topics, h):
    registry = [h.entry(KEY, "Falcon", "CrowdStrike"), h.entry(OTHER, "Tenable VM", "Tenable")]
    async with h.catalog(infra, registry) as (client, pool, database):
        yield client, pool, database, registry


def _user(infra, h, org=None):
    return h.as_user(infra, org or uuid.uuid4(), subject=f"user-{uuid.uuid4().hex[:8]}")


def _review(rating=4, **extra):
    return {"rating": rating, "title": "Solid", "text": "Works.", **extra}


async def _fresh_integration(api, h, vendor="Fresh Vendor"):
    """A new integration per test that counts (the module shares one database and registry)."""
    _, pool, _, registry = api
    key = f"rv_{uuid.uuid4().hex[:10]}"
    registry.append(h.entry(key, "Fresh", vendor))
    await registry_sync.sync_catalog(pool=pool, entries=registry)
    return key


async def test_create_read_edit_delete_own_review(api, infra, h):
    client, pool, database, _ = api
    key = await _fresh_integration(api, h)
    my_org = uuid.uuid4()
    me, colleague, stranger = _user(infra, h, my_org), _user(infra, h, my_org), _user(infra, h)
    r = await client.post(f"/v1/integrations/{key}/reviews", headers=me, json=_review(
        5, title="  Great  ", pros="fast", cons="none", would_recommend=True, ease_of_setup=5,
        documentation_quality=4, support_quality=3))
    assert r.status_code == 201, r.text
    review = r.json()
    assert r.headers["location"] == f"/v1/integrations/{key}/reviews/{review['id']}"
    assert review["title"] == "Great" and review["mine"] and review["my_vote"] is None
    assert review["verified"] is False and review["vendor_response"] is None
    assert (await h.fetchval(database, "SELECT review_count FROM integration_catalog WHERE key = $1", key)) == 1

    seen = (await client.get(f"/v1/integrations/{key}/reviews/{review['id']}", headers=stranger)).json()
    assert seen["mine"] is False and seen["rating"] == 5 and "org_id" not in seen and "user_id" not in seen

    second = await h.problem(await client.post(f"/v1/integrations/{key}/reviews", headers=me, json=_review()),
                             409, "review_exists")
    assert second["review_id"] == review["id"]

    r = await client.patch(f"/v1/integrations/{key}/reviews/{review['id']}", headers=me,
                           json={"rating": 2, "support_quality": None})
    assert r.status_code == 200, r.text
    assert r.json()["rating"] == 2 and r.json()["support_quality"] is None and r.json()["pros"] == "fast"
    detail = (await client.get(f"/v1/integrations/{key}", headers=me)).json()
    assert detail["average_rating"] == 2.0 and detail["review_count"] == 1
    assert detail["reviews_summary"]["distribution"] == {"1": 0, "2": 1, "3": 0, "4": 0, "5": 0}

    await h.problem(await client.patch(f"/v1/integrations/{key}/reviews/{review['id']}", headers=stranger,
                                       json={"rating": 1}), 403, "not_review_author")
    await h.problem(await client.delete(f"/v1/integrations/{key}/reviews/{review['id']}", headers=stranger),
                    403, "not_review_author")
    # A colleague in the same organization is another user: not the author either.
    await h.problem(await client.delete(f"/v1/integrations/{key}/reviews/{review['id']}", headers=colleague),
                    403, "not_review_author")

    assert (await client.delete(f"/v1/integrations/{key}/reviews/{review['id']}", headers=me)).status_code == 204
    row = await pool.fetchrow(COUNTS, key)
    assert (row["average_rating"], row["review_count"]) == ("0.00", 0)
    await h.problem(await client.get(f"/v1/integrations/{key}/reviews/{review['id']}", headers=me),
                    404, "review_not_found")
    # After deleting, the user may review again.
    assert (await client.post(f"/v1/integrations/{key}/reviews", headers=me, json=_review())).status_code == 201


async def test_verified_means_the_reviewers_org_has_a_live_installation(api, infra, h):
    client, pool, _, _ = api
    key = await _fresh_integration(api, h)
    org, inst = uuid.uuid4(), uuid.uuid4()
    await installs.record_installation_state(pool=pool, installation_id=inst, org_id=org, integration_key=key,
                                             installed=True, revision=1)
    me = _user(infra, h, org)
    review = (await client.post(f"/v1/integrations/{key}/reviews", headers=me, json=_review())).json()
    assert review["verified"] is True
    other = (await client.post(f"/v1/integrations/{key}/reviews", headers=_user(infra, h), json=_review())).json()
    assert other["verified"] is False
    await installs.record_installation_state(pool=pool, installation_id=inst, org_id=org, integration_key=key,
                                             installed=False, revision=2)
    edited = (await client.patch(f"/v1/integrations/{key}/reviews/{review['id']}", headers=me,
                                 json={"text": "Uninstalled since."})).json()
    assert edited["verified"] is False, "verified is re-checked when the review is written again"


@pytest.mark.parametrize("body, code", [
    (_review(0), "validation_error"), (_review(6), "validation_error"), (_review(4.5), "validation_error"),
    (_review("5"), "validation_error"), (_review(True), "validation_error"),
    (_review(ease_of_setup=9), "validation_error"), (_review(support_quality=0), "validation_error"),
    ({**_review(), "title": "x" * 201}, "validation_error"), ({**_review(), "title": "   "}, "validation_error"),
    ({**_review(), "text": "x" * 5001}, "validation_error"), (_review(pros="p" * 2001), "validation_error"),
    (_review(verified=True), "validation_error"), (_review(helpful_count=99), "validation_error"),
    ({"title": "no rating"}, "validation_error"),
])
async def test_bad_reviews_are_rejected_and_nothing_is_written(api, infra, h, body, code):
    client, _, database, _ = api
    before = await h.fetchval(database, "SELECT count(*) FROM integration_reviews")
    await h.problem(await client.post(f"/v1/integrations/{KEY}/reviews", headers=_user(infra, h), json=body),
                    422, code)
    assert await h.fetchval(database, "SELECT count(*) FROM integration_reviews") == before


async def test_unknown_integration_and_review_and_bad_edits(api, infra, h):
    client, _, database, _ = api
    me = _user(infra, h)
    before = await h.fetchval(database, "SELECT count(*) FROM integration_reviews")
    await h.problem(await client.post("/v1/integrations/nope/reviews", headers=me, json=_review()),
                    404, "integration_not_found")
    await h.problem(await client.get("/v1/integrations/nope/reviews", headers=me), 404, "integration_not_found")
    await h.problem(await client.get(f"/v1/integrations/{KEY}/reviews/{uuid.uuid4()}", headers=me),
                    404, "review_not_found")
    await h.problem(await client.get(f"/v1/integrations/{KEY}/reviews/not-a-uuid", headers=me),
                    422, "validation_error")
    await h.problem(await client.post(f"/v1/integrations/{KEY}/reviews", json=_review()), 401, "missing_token")
    assert await h.fetchval(database, "SELECT count(*) FROM integration_reviews") == before

    review = (await client.post(f"/v1/integrations/{KEY}/reviews", headers=me, json=_review(3))).json()
    url = f"/v1/integrations/{KEY}/reviews/{review['id']}"
    await h.problem(await client.patch(url, headers=me, json={}), 400, "empty_update")
    await h.problem(await client.patch(url, headers=me, json={"rating": None}), 422, "validation_error")
    await h.problem(await client.patch(url, headers=me, json={"rating": 7}), 422, "validation_error")
    await h.problem(await client.patch(url, headers=me, json={"text": "x" * 5001}), 422, "validation_error")
    # A review id only lives under its own integration.
    await h.problem(await client.patch(f"/v1/integrations/{OTHER}/reviews/{review['id']}", headers=me,
                                       json={"rating": 1}), 404, "review_not_found")
    assert (await client.get(url, headers=me)).json()["rating"] == 3


async def test_votes_are_one_per_user_and_changeable(api, infra, h):
    client, pool, _, _ = api
    key = await _fresh_integration(api, h)
    author = _user(infra, h)
    review = (await client.post(f"/v1/integrations/{key}/reviews", headers=author, json=_review())).json()
    url = f"/v1/integrations/{key}/reviews/{review['id']}/vote"
    readers = [_user(infra, h) for _ in range(3)]
    for reader in readers:
        r = await client.put(url, headers=reader, json={"helpful": True})
        assert r.status_code == 200, r.text
    again = (await client.put(url, headers=readers[0], json={"helpful": True})).json()
    assert (again["helpful_count"], again["not_helpful_count"], again["my_vote"]) == (3, 0, True)
    changed = (await client.put(url, headers=readers[0], json={"helpful": False})).json()
    assert (changed["helpful_count"], changed["not_helpful_count"], changed["helpfulness"]) == (2, 1, 1)
    withdrawn = (await client.delete(url, headers=readers[1])).json()
    assert (withdrawn["helpful_count"], withdrawn["my_vote"]) == (1, None)
    assert (await client.delete(url, headers=readers[1])).status_code == 200, "withdrawing twice is harmless"
    await h.problem(await client.put(url, headers=author, json={"helpful": True}), 403, "own_review")
    await h.problem(await client.put(url, headers=readers[2], json={"helpful": "yes"}), 422, "validation_error")
    await h.problem(await client.put(url, headers=readers[2], json={}), 422, "validation_error")
    await h.problem(await client.put(f"/v1/integrations/{key}/reviews/{uuid.uuid4()}/vote", headers=readers[2],
                                     json={"helpful": True}), 404, "review_not_found")

    # Concurrent votes on one review all count exactly once.
    voters = [_user(infra, h) for _ in range(20)]
    results = await asyncio.gather(*(client.put(url, headers=v, json={"helpful": i % 4 != 0})
                                     for i, v in enumerate(voters)))
    assert all(r.status_code == 200 for r in results)
    final = (await client.get(f"/v1/integrations/{key}/reviews/{review['id']}", headers=author)).json()
    assert (final["helpful_count"], final["not_helpful_count"]) == (1 + 15, 1 + 5)
    assert await pool.fetchval("SELECT count(*) FROM integration_review_votes WHERE review_id = $1",
                               uuid.UUID(review["id"])) == 2 + 20


async def test_list_sorts_and_walks_pages(api, infra, h):
    client, pool, _, _ = api
    key = await _fresh_integration(api, h)
    authors = [_user(infra, h) for _ in range(7)]
    ids = []
    for i, author in enumerate(authors):
        ids.append((await client.post(f"/v1/integrations/{key}/reviews", headers=author,
                                      json=_review(1 + i % 5, title=f"review {i}"))).json()["id"])
    # Helpfulness: review 2 gets +2, review 5 gets +1, review 0 gets -1.
    for target, votes in ((2, [True, True]), (5, [True]), (0, [False])):
        for helpful in votes:
            await client.put(f"/v1/integrations/{key}/reviews/{ids[target]}/vote", headers=_user(infra, h),
                             json={"helpful": helpful})
    reader = _user(infra, h)

    async def walk(sort):
        seen, cursor = [], None
        while True:
            params = {"sort": sort, "limit": 3, **({"cursor": cursor} if cursor else {})}
            r = await client.get(f"/v1/integrations/{key}/reviews", params=params, headers=reader)
            assert r.status_code == 200, r.text
            seen += [i["id"] for i in r.json()["items"]]
            cursor = r.json()["next_cursor"]
            if not cursor:
                return seen

    assert await walk("newest") == list(reversed(ids))
    helpful = await walk("most_helpful")
    assert helpful[:2] == [ids[2], ids[5]] and helpful[-1] == ids[0] and sorted(helpful) == sorted(ids)

    first = (await client.get(f"/v1/integrations/{key}/reviews", params={"limit": 3}, headers=reader)).json()
    cursor = first["next_cursor"]
    await h.problem(await client.get(f"/v1/integrations/{key}/reviews", params={"cursor": cursor,
                                                                                 "sort": "most_helpful"},
                                     headers=reader), 400, "invalid_cursor")
    await h.problem(await client.get(f"/v1/integrations/{KEY}/reviews", params={"cursor": cursor}, headers=reader),
                    400, "invalid_cursor")
    for bad in ("garbage!", "e30", "WyJuZXdlc3QiXQ"):
        await h.problem(await client.get(f"/v1/integrations/{key}/reviews", params={"cursor": bad}, headers=reader),
                        400, "invalid_cursor")
    await h.problem(await client.get(f"/v1/integrations/{key}/reviews", params={"sort": "best"}, headers=reader),
                    400, "invalid_sort")
    await h.problem(await client.get(f"/v1/integrations/{key}/reviews", params={"order": "x"}, headers=reader),
                    400, "unknown_parameter")
    listed = await client.get(f"/v1/integrations/{key}/reviews", headers=reader)
    etag = listed.headers["etag"]
    assert (await client.get(f"/v1/integrations/{key}/reviews",
                             headers={**reader, "if-none-match": etag})).status_code == 304


async def test_rating_aggregate_is_exact_under_concurrent_writes(api, infra, h):
    client, pool, _, _ = api
    key = await _fresh_integration(api, h)
    users = [_user(infra, h) for _ in range(20)]
    ratings = [1 + (i * 7) % 5 for i in range(20)]
    created = await asyncio.gather(*(client.post(f"/v1/integrations/{key}/reviews", headers=u, json=_review(r))
                                     for u, r in zip(users, ratings, strict=True)))
    assert [r.status_code for r in created] == [201] * 20
    row = await pool.fetchrow(COUNTS, key)
    assert row["review_count"] == 20 and row["average_rating"] == f"{sum(ratings) / 20:.2f}"

    # Concurrent edits, deletes and duplicate attempts: the aggregate still matches the table.
    ids = [r.json()["id"] for r in created]
    ops = [client.patch(f"/v1/integrations/{key}/reviews/{ids[i]}", headers=users[i], json={"rating": 5})
           for i in range(0, 10)]
    ops += [client.delete(f"/v1/integrations/{key}/reviews/{ids[i]}", headers=users[i]) for i in range(10, 15)]
    ops += [client.post(f"/v1/integrations/{key}/reviews", headers=users[i], json=_review()) for i in range(15, 20)]
    results = await asyncio.gather(*ops)
    assert [r.status_code for r in results] == [200] * 10 + [204] * 5 + [409] * 5
    expected = [5] * 10 + ratings[15:]
    row = await pool.fetchrow(COUNTS, key)
    assert row["review_count"] == 15 and row["average_rating"] == f"{sum(expected) / 15:.2f}"
    summary = (await client.get(f"/v1/integrations/{key}", headers=users[0])).json()["reviews_summary"]
    assert summary["review_count"] == 15 and sum(summary["distribution"].values()) == 15
    assert summary["distribution"]["5"] == expected.count(5)


async def test_vendor_response_is_written_by_the_vendor_portal_only(api, infra, h):
    client, pool, _, _ = api
    key = await _fresh_integration(api, h, vendor="CrowdStrike")
    review = (await client.post(f"/v1/integrations/{key}/reviews", headers=_user(infra, h), json=_review())).json()
    url = f"/internal/v1/integrations/{key}/reviews/{review['id']}/vendor-response"
    portal = h.as_service(infra, "vendor-portal")
    body = {"vendor": "crowdstrike", "responder": "CrowdStrike Support", "text": "Thanks, fixed in 1.2."}
    r = await client.put(url, headers=portal, json=body)
    assert r.status_code == 200, r.text
    response = r.json()["vendor_response"]
    assert response["text"] == "Thanks, fixed in 1.2." and response["responder"] == "CrowdStrike Support"
    public = (await client.get(f"/v1/integrations/{key}/reviews/{review['id']}", headers=_user(infra, h))).json()
    assert public["vendor_response"]["text"] == "Thanks, fixed in 1.2."

    await h.problem(await client.put(url, headers=portal, json={**body, "vendor": "SentinelOne"}),
                    403, "not_integration_vendor")
    await h.problem(await client.put(url, headers=h.as_user(infra, uuid.uuid4(), role="admin"), json=body),
                    403, "service_not_allowed")
    await h.problem(await client.put(url, headers=h.as_service(infra, "installer"), json=body),
                    403, "service_not_allowed")
    await h.problem(await client.put(url, headers=portal, json={**body, "text": "x" * 5001}), 422, "validation_error")
    await h.problem(await client.put(url, headers=portal, json={**body, "text": ""}), 422, "validation_error")
    await h.problem(await client.put(f"/internal/v1/integrations/{key}/reviews/{uuid.uuid4()}/vendor-response",
                                     headers=portal, json=body), 404, "review_not_found")
    kept = (await client.get(f"/v1/integrations/{key}/reviews/{review['id']}", headers=_user(infra, h))).json()
    assert kept["vendor_response"]["text"] == "Thanks, fixed in 1.2.", "rejected writes change nothing"

    r = await client.delete(url, headers=portal, params={"vendor": "CrowdStrike"})
    assert r.status_code == 200 and r.json()["vendor_response"] is None


async def test_unstorable_text_null_texts_bad_keys_and_crafted_cursors_are_4xx(api, infra, h):
    """Issue 17 item 6: each of these was a 500 (Postgres refused the value); now a clear 4xx."""
    import base64

    import orjson

    client, _, database, _ = api
    me = _user(infra, h)
    before = await h.fetchval(database, "SELECT count(*) FROM integration_reviews")
    for bad in ({**_review(), "title": "nul\x00"}, {**_review(), "text": "lone \ud800"}, _review(pros="\x00")):
        # json.dumps escapes the surrogate as \ud800, as an attacker's client would send it.
        await h.problem(await client.post(f"/v1/integrations/{KEY}/reviews", content=json.dumps(bad),
                                          headers={**me, "content-type": "application/json"}),
                        422, "validation_error")
    for key in ("nul%00key", "%ED%A0%80"):
        await h.problem(await client.get(f"/v1/integrations/{key}/reviews", headers=me), 404, "integration_not_found")
        await h.problem(await client.get(f"/v1/integrations/{key}", headers=me), 404, "integration_not_found")
    assert await h.fetchval(database, "SELECT count(*) FROM integration_reviews") == before

    review = (await client.post(f"/v1/integrations/{KEY}/reviews", headers=me, json=_review(3))).json()
    url = f"/v1/integrations/{KEY}/reviews/{review['id']}"
    for field in ("text", "pros", "cons"):
        await h.problem(await client.patch(url, headers=me, json={field: None}), 422, "validation_error")
    await h.problem(await client.patch(url, headers=me, json={"text": "a\x00b"}), 422, "validation_error")
    assert (await client.patch(url, headers=me, json={"pros": ""})).status_code == 200

    def crafted(values) -> str:
        return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")

    for sort, values in (("most_helpful", ["most_helpful", KEY, 2**40, "2026-01-01T00:00:00+00:00", str(uuid.uuid4())]),
                         ("newest", ["newest", KEY, "2026-01-01T00:00:00+00:00", "\x00"]),
                         ("newest", ["newest", KEY, [1], str(uuid.uuid4())])):
        await h.problem(await client.get(f"/v1/integrations/{KEY}/reviews", headers=me,
                                         params={"sort": sort, "cursor": crafted(values)}), 400, "invalid_cursor")
