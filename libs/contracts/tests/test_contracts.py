import uuid

import pytest
from pydantic import ValidationError

from aria_contracts import Envelope, entity_id, schemas, topics
from aria_contracts.events import EVENT_MODELS, Asset, InstallationInstalled, Provenance, Risk

ORG = uuid.UUID("00000000-0000-0000-0000-0000000000aa")


def test_json_schema_files_match_the_models():
    assert schemas.drift() == [], "run: uv run python -m aria_contracts.schemas"


def test_every_event_goes_to_a_registered_topic():
    names = {t.name for t in topics.REGISTRY}
    assert {m.topic for m in EVENT_MODELS} <= names
    assert len(names) == len(topics.REGISTRY), "topic names must be unique"


def test_entity_topics_are_compacted_and_keyed_by_entity():
    for model in (Risk, Asset):
        topic = topics.by_name(model.topic)
        assert topic.cleanup_policy == "compact" and topic.key == "entity_id"


def test_entity_ids_are_deterministic_and_scoped():
    a = entity_id(org_id=ORG, integration_key="crowdstrike_falcon", entity_type="risk", external_id="x1")
    assert a == entity_id(org_id=ORG, integration_key="crowdstrike_falcon", entity_type="risk", external_id="x1")
    assert a != entity_id(org_id=uuid.uuid4(), integration_key="crowdstrike_falcon", entity_type="risk", external_id="x1")
    assert a != entity_id(org_id=ORG, integration_key="crowdstrike_falcon", entity_type="asset", external_id="x1")


def _risk(raw: str) -> Risk:
    inst = uuid.uuid4()
    return Risk(
        entity_id=entity_id(org_id=ORG, integration_key="k", entity_type="risk", external_id="e1"),
        org_id=ORG, title="t", severity="high", status="open",
        provenance=Provenance(installation_id=inst, integration_key="k", connector_version="1.0.0",
                              stream="alerts", external_id="e1", raw_sha256=raw),
    )


def test_same_vendor_record_gives_same_dedup_key_and_changed_record_does_not():
    assert _risk("abc").dedup_key() == _risk("abc").dedup_key()
    assert _risk("abc").dedup_key() != _risk("abd").dedup_key()


def test_envelope_round_trip_and_type_check():
    inst = uuid.uuid4()
    payload = InstallationInstalled(installation_id=inst, org_id=ORG, integration_key="k", revision=1, actor="u1")
    env = Envelope.wrap(payload, source="installer", org_id=ORG, installation_id=inst)
    again = Envelope.model_validate_json(env.model_dump_json())
    assert again.payload(InstallationInstalled) == payload
    assert again.key == str(inst) and again.dedup_key == f"installation.installed:{inst}:1"
    with pytest.raises(ValueError):
        again.payload(Risk)


def test_unknown_fields_are_rejected():
    with pytest.raises(ValidationError):
        InstallationInstalled(installation_id=uuid.uuid4(), org_id=ORG, integration_key="k", revision=1,
                              actor="u", secret="nope")


def test_a_topic_subscriber_gets_typed_envelopes_and_untyped_ones_it_can_skip():
    from pydantic import TypeAdapter

    from aria_contracts.events import TOPIC_EVENTS, Event, InstallationLifecycleEvents, InstallationUninstalled

    assert set(TOPIC_EVENTS) == {t.name for t in topics.REGISTRY}
    for topic, events in TOPIC_EVENTS.items():
        typed = {a.__pydantic_generic_metadata__["args"][0] for a in events.__origin__.__args__ if a is not Envelope}
        assert typed == {m for m in EVENT_MODELS if m.topic == topic}, topic
    inst = uuid.uuid4()
    payload = InstallationUninstalled(installation_id=inst, org_id=ORG, integration_key="k", revision=2, actor="u")
    wire = Envelope.wrap(payload, source="installer", org_id=ORG).model_dump(mode="json")
    on_topic = TypeAdapter(InstallationLifecycleEvents)
    event = on_topic.validate_python(wire)
    assert isinstance(event, Event) and event.data == payload and event.payload(InstallationUninstalled) is event.data
    # A type the subscriber does not know yet, and a payload that fails its model, stay untyped
    # envelopes for the handler to skip rather than decoding errors.
    for other in (dict(wire, type="installation.archived"), dict(wire, data={"revision": 0})):
        assert type(on_topic.validate_python(other)) is Envelope


def test_asset_macs_take_one_form_whatever_the_vendor_wrote():
    import uuid

    from aria_contracts.events import Asset, Provenance

    prov = Provenance(installation_id=uuid.uuid4(), integration_key="x", connector_version="1.0.0", stream="s",
                      external_id="1", raw_sha256="0" * 64)
    asset = Asset(entity_id=uuid.uuid4(), org_id=uuid.uuid4(), provenance=prov, name="h", asset_type="host",
                  mac_addresses=["00-50-56-A1-2B-3C", "0050.56a1.2b3c", "005056A12B3D", "not-a-mac"])
    assert asset.mac_addresses == ["00:50:56:a1:2b:3c", "00:50:56:a1:2b:3d", "not-a-mac"]
