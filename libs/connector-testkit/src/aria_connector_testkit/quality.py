"""Quality tiers earned in the conformance suite (never declared by a manifest).

The suite (``libs/connectors/tests``) records, per connector, the outcome of every test
tagged with a criterion and computes the tier; ``ARIA_WRITE_QUALITY=1`` rewrites
``aria_connectors/quality.json`` and a test fails whenever the committed file disagrees with
a full run. ``catalog_entry()`` reads that file: a connector absent from it is ``unrated``.

Criteria (a criterion passes when at least one of its tests ran and none failed; tests a
connector skips for lack of the capability do not count):

* bronze: ``manifest``, ``auth``, ``ingest`` (full sync, or webhook payload mapping for
  push-only connectors)
* silver: bronze + ``incremental``, ``rate_limits``, ``error_classification``
* gold: silver + (``webhooks`` or ``push``), ``health``, ``preview``, ``replay`` (every declared
  stream and webhook replays real vendor responses, and the simulator serves only recorded shapes)
"""

from __future__ import annotations

TIERS = ("unrated", "bronze", "silver", "gold")
CRITERIA = ("manifest", "auth", "ingest", "incremental", "rate_limits", "error_classification",
            "webhooks", "push", "health", "preview", "replay")
BRONZE = ("manifest", "auth", "ingest")
SILVER = ("incremental", "rate_limits", "error_classification")
GOLD = ("health", "preview", "replay")
GOLD_ANY = ("webhooks", "push")


def tier_of(criteria: dict[str, str]) -> str:
    """criteria: name -> "pass" | "fail" | "n/a"."""
    ok = lambda names: all(criteria.get(n) == "pass" for n in names)  # noqa: E731
    if not ok(BRONZE):
        return "unrated"
    if not ok(SILVER):
        return "bronze"
    if not (ok(GOLD) and any(criteria.get(n) == "pass" for n in GOLD_ANY)):
        return "silver"
    return "gold"
