"""Reviews API: any user writes, edits and deletes their own review and votes on others';
the vendor portal (service identity) answers reviews on its vendor's integrations."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from aria_platform.auth import Principal, require_role, require_service
from aria_platform.runtime import Runtime, get_runtime
from aria_platform.text import Storable

from ..http import INVALID_CURSOR, NOT_FOUND, NOT_MODIFIED, PATH_VALIDATION, UNAUTHORIZED, VALIDATION, cached_json, \
    ok_example, problem_example, reject_unknown_params, storable_key
from . import service

router = APIRouter(prefix="/v1/integrations/{key}/reviews", tags=["reviews"], dependencies=[Depends(storable_key)])
internal_router = APIRouter(prefix="/internal/v1/integrations/{key}/reviews", tags=["vendor responses"],
                            dependencies=[Depends(storable_key)])

# The only identity allowed to write vendor responses: the vendor portal authenticates vendor
# staff and says which vendor they represent (checked against the integration's vendor).
VENDOR_PORTAL = "vendor-portal"

Score = Annotated[int, Field(ge=1, le=5, strict=True)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Storable]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000), Storable]
Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000), Storable]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Storable]


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rating: Score = Field(description="Overall rating, 1–5.")
    title: Title
    text: Text = Field("", description="The review, up to 5,000 characters.")
    pros: Short = ""
    cons: Short = ""
    would_recommend: StrictBool | None = None
    ease_of_setup: Score | None = None
    documentation_quality: Score | None = None
    support_quality: Score | None = None


class ReviewPatch(BaseModel):
    """Only the fields sent change; null clears an optional field (rating, title, text, pros and cons
    cannot be null: send "" to empty a text)."""
    model_config = ConfigDict(extra="forbid")
    rating: Score | None = None
    title: Title | None = None
    text: Text | None = None
    pros: Short | None = None
    cons: Short | None = None
    would_recommend: StrictBool | None = None
    ease_of_setup: Score | None = None
    documentation_quality: Score | None = None
    support_quality: Score | None = None


class VoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    helpful: StrictBool = Field(description="true = helpful, false = not helpful. Voting again changes your vote.")


class VendorResponseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    vendor: Name = Field(description="The vendor the portal authenticated; must be the integration's vendor.")
    responder: Name = Field(description="Shown with the response, e.g. 'CrowdStrike Support'.")
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000), Storable]


class VendorResponse(BaseModel):
    text: str
    responder: str | None
    responded_at: datetime


class Review(BaseModel):
    id: uuid.UUID
    integration_key: str
    rating: int
    title: str
    text: str
    pros: str
    cons: str
    would_recommend: bool | None
    ease_of_setup: int | None
    documentation_quality: int | None
    support_quality: int | None
    verified: bool = Field(description="The reviewer's organization had a live installation when it wrote this.")
    helpful_count: int
    not_helpful_count: int
    helpfulness: int = Field(description="helpful_count − not_helpful_count (the most_helpful sort).")
    vendor_response: VendorResponse | None
    created_at: datetime
    updated_at: datetime
    mine: bool = Field(description="Written by the caller.")
    my_vote: bool | None = Field(description="The caller's vote: true helpful, false not helpful, null none.")


class ReviewPage(BaseModel):
    items: list[Review]
    next_cursor: str | None
    limit: int
    sort: str


_REVIEW_EXAMPLE = {
    "id": "5a0c1c1e-7b43-4a4e-9a57-3f1f0c5f3b10", "integration_key": "crowdstrike_falcon", "rating": 5,
    "title": "Set up in ten minutes", "text": "Alerts arrived as risks on the first sync.",
    "pros": "Fast incremental syncs", "cons": "Needs an API client per tenant", "would_recommend": True,
    "ease_of_setup": 5, "documentation_quality": 4, "support_quality": None, "verified": True,
    "helpful_count": 3, "not_helpful_count": 1, "helpfulness": 2,
    "vendor_response": {"text": "Thanks for the feedback!", "responder": "CrowdStrike Support",
                        "responded_at": "2026-11-26T09:00:00+00:00"},
    "created_at": "2026-11-26T08:00:00+00:00", "updated_at": "2026-11-26T08:00:00+00:00",
    "mine": False, "my_vote": True,
}
_INSTANCE = "/v1/integrations/crowdstrike_falcon/reviews"
_REVIEW_NOT_FOUND = {404: problem_example(404, "review_not_found", "Review not found",
                                          "no review 5a0c1c1e-7b43-4a4e-9a57-3f1f0c5f3b10 on this integration",
                                          instance=_INSTANCE + "/5a0c1c1e-7b43-4a4e-9a57-3f1f0c5f3b10")}
_NOT_AUTHOR = {403: problem_example(403, "not_review_author", "Not your review",
                                    "only the author may change or delete a review", instance=_INSTANCE)}


def _review_url(key: str, review_id: uuid.UUID) -> str:
    return f"/v1/integrations/{key}/reviews/{review_id}"


@router.get(
    "", response_model=ReviewPage, summary="List an integration's reviews",
    description="Newest first (`sort=newest`, default) or most helpful first (`sort=most_helpful`: helpful minus "
                "not-helpful votes, then newest). Keyset pagination: follow `next_cursor`; a cursor only continues "
                "the listing (integration and sort) that issued it. Reviewers are anonymous; `mine` and `my_vote` "
                "describe the caller. ETag / If-None-Match supported.",
    responses={200: ok_example({"items": [_REVIEW_EXAMPLE], "next_cursor": None, "limit": 20, "sort": "newest"}),
               **NOT_MODIFIED,
               400: {"description": "Unknown parameter or sort, or a malformed cursor",
                     "content": INVALID_CURSOR["content"]},
               **UNAUTHORIZED, **NOT_FOUND, **VALIDATION},
)
async def list_reviews(
    request: Request, key: str,
    sort: str = Query("newest", description="newest | most_helpful"),
    cursor: str | None = Query(None, max_length=1000, description="`next_cursor` of the previous page."),
    limit: int = Query(20, ge=1, le=100),
    rt: Runtime = Depends(get_runtime), caller: Principal = Depends(require_role("viewer")),
) -> Response:
    reject_unknown_params(request, {"sort", "cursor", "limit"})
    body = await service.list_reviews(pool=rt.pool, key=key, org_id=caller.org_id, user_id=caller.subject,
                                      sort=sort, cursor=cursor, limit=limit)
    return cached_json(request, body)


@router.post(
    "", response_model=Review, status_code=201, summary="Review an integration",
    description="One review per user per organization per integration; a second is 409 `review_exists` (edit the "
                "first instead). `rating` and the sub-scores are whole numbers 1–5; title ≤ 200, text ≤ 5,000, pros "
                "and cons ≤ 2,000 characters; unknown fields are rejected. `verified` is set when your organization "
                "has a live installation of the integration. Updates the integration's average rating and review "
                "count in the same transaction.",
    responses={201: ok_example(_REVIEW_EXAMPLE, "Created; Location names the review"),
               409: problem_example(409, "review_exists", "You already reviewed this integration",
                                    "one review per user per organization; edit it instead", instance=_INSTANCE,
                                    review_id="5a0c1c1e-7b43-4a4e-9a57-3f1f0c5f3b10"),
               **NOT_FOUND, **UNAUTHORIZED, **VALIDATION},
)
async def create_review(key: str, body: ReviewIn, rt: Runtime = Depends(get_runtime),
                        caller: Principal = Depends(require_role("viewer"))) -> Response:
    review = await service.create_review(pool=rt.pool, key=key, org_id=caller.org_id, user_id=caller.subject,
                                         fields=body.model_dump())
    response = Response(Review.model_validate(review).model_dump_json(), status_code=201,
                        media_type="application/json")
    response.headers["Location"] = _review_url(key, review["id"])
    return response


@router.get(
    "/{review_id}", response_model=Review, summary="One review",
    description="ETag / If-None-Match supported.",
    responses={200: ok_example(_REVIEW_EXAMPLE), **NOT_MODIFIED, **_REVIEW_NOT_FOUND, **UNAUTHORIZED, **VALIDATION},
)
async def get_review(request: Request, key: str, review_id: uuid.UUID, rt: Runtime = Depends(get_runtime),
                     caller: Principal = Depends(require_role("viewer"))) -> Response:
    review = await service.get_review(pool=rt.pool, key=key, review_id=review_id, org_id=caller.org_id,
                                      user_id=caller.subject)
    return cached_json(request, review)


@router.patch(
    "/{review_id}", response_model=Review, summary="Edit your review",
    description="Only the author may edit (403 `not_review_author`). Send only the fields to change; the same "
                "limits as creating apply. An empty body is 400 `empty_update`. `verified` is re-checked.",
    responses={200: ok_example(_REVIEW_EXAMPLE),
               400: problem_example(400, "empty_update", "Nothing to change", "send at least one review field",
                                    instance=_INSTANCE),
               **_NOT_AUTHOR, **_REVIEW_NOT_FOUND, **UNAUTHORIZED, **VALIDATION},
)
async def update_review(key: str, review_id: uuid.UUID, body: ReviewPatch, rt: Runtime = Depends(get_runtime),
                        caller: Principal = Depends(require_role("viewer"))) -> dict:
    return await service.update_review(pool=rt.pool, key=key, review_id=review_id, org_id=caller.org_id,
                                       user_id=caller.subject, changes=body.model_dump(exclude_unset=True))


@router.delete(
    "/{review_id}", status_code=204, summary="Delete your review",
    description="Only the author may delete (403 `not_review_author`); its votes go with it and the integration's "
                "rating is recomputed.",
    responses={204: {"description": "Deleted"}, **_NOT_AUTHOR, **_REVIEW_NOT_FOUND, **UNAUTHORIZED,
               **PATH_VALIDATION},
)
async def delete_review(key: str, review_id: uuid.UUID, rt: Runtime = Depends(get_runtime),
                        caller: Principal = Depends(require_role("viewer"))) -> Response:
    await service.delete_review(pool=rt.pool, key=key, review_id=review_id, org_id=caller.org_id,
                                user_id=caller.subject)
    return Response(status_code=204)


_OWN_REVIEW = {403: problem_example(403, "own_review", "You cannot vote on your own review",
                                   "helpful votes come from other readers", instance=_INSTANCE)}


@router.put(
    "/{review_id}/vote", response_model=Review, summary="Vote a review helpful or not helpful",
    description="One vote per user per review; voting again replaces your vote. Authors cannot vote on their own "
                "review (403 `own_review`). Returns the review with its new counts.",
    responses={200: ok_example(_REVIEW_EXAMPLE), **_OWN_REVIEW, **_REVIEW_NOT_FOUND, **UNAUTHORIZED, **VALIDATION},
)
async def vote(key: str, review_id: uuid.UUID, body: VoteIn, rt: Runtime = Depends(get_runtime),
               caller: Principal = Depends(require_role("viewer"))) -> dict:
    return await service.vote(pool=rt.pool, key=key, review_id=review_id, org_id=caller.org_id,
                              user_id=caller.subject, helpful=body.helpful)


@router.delete(
    "/{review_id}/vote", response_model=Review, summary="Withdraw your vote",
    description="Removes the caller's vote (no vote is not an error). Returns the review with its new counts.",
    responses={200: ok_example({**_REVIEW_EXAMPLE, "helpful_count": 2, "helpfulness": 1, "my_vote": None}),
               **_OWN_REVIEW, **_REVIEW_NOT_FOUND, **UNAUTHORIZED, **PATH_VALIDATION},
)
async def withdraw_vote(key: str, review_id: uuid.UUID, rt: Runtime = Depends(get_runtime),
                        caller: Principal = Depends(require_role("viewer"))) -> dict:
    return await service.vote(pool=rt.pool, key=key, review_id=review_id, org_id=caller.org_id,
                              user_id=caller.subject, helpful=None)


_VENDOR_ERRORS = {
    403: problem_example(403, "not_integration_vendor", "Not this integration's vendor",
                         "only CrowdStrike may respond to reviews of crowdstrike_falcon", instance=_INSTANCE),
    **_REVIEW_NOT_FOUND, **UNAUTHORIZED, **VALIDATION,
}
_VENDOR_RULE = ("Only the vendor portal's service identity (`svc` = `vendor-portal`) may call this; other "
                "callers get 403 `service_not_allowed`. The portal authenticates vendor staff and sends the vendor "
                "they represent, which must equal the integration's vendor (case-insensitive), else 403 "
                "`not_integration_vendor`.")


@internal_router.put(
    "/{review_id}/vendor-response", response_model=Review, summary="Write or replace the vendor's response",
    description="The vendor's public answer, shown under the review (≤ 5,000 characters). " + _VENDOR_RULE,
    responses={200: ok_example({**_REVIEW_EXAMPLE, "mine": False, "my_vote": None}), **_VENDOR_ERRORS},
)
async def put_vendor_response(key: str, review_id: uuid.UUID, body: VendorResponseIn,
                              rt: Runtime = Depends(get_runtime),
                              _caller: Principal = Depends(require_service(VENDOR_PORTAL))) -> dict:
    return await service.set_vendor_response(pool=rt.pool, key=key, review_id=review_id, vendor=body.vendor,
                                             text=body.text, responder=body.responder)


@internal_router.delete(
    "/{review_id}/vendor-response", response_model=Review, summary="Remove the vendor's response",
    description=_VENDOR_RULE,
    responses={200: ok_example({**_REVIEW_EXAMPLE, "vendor_response": None, "mine": False, "my_vote": None}),
               **_VENDOR_ERRORS},
)
async def delete_vendor_response(
    key: str, review_id: uuid.UUID,
    vendor: str = Query(..., min_length=1, max_length=200, description="The vendor the portal authenticated."),
    rt: Runtime = Depends(get_runtime), _caller: Principal = Depends(require_service(VENDOR_PORTAL)),
) -> dict:
    return await service.set_vendor_response(pool=rt.pool, key=key, review_id=review_id, vendor=vendor,
                                             text=None, responder=None)
