"""Vendor record -> contract event, driven by a MappingSpec."""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import json
import re
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import orjson
from aria_contracts.events import DOMAIN_MODELS, DomainEntity
from aria_contracts.ids import entity_ids
from pydantic import ValidationError

from ..errors import MappingError
from .manifest import ExternalId, FieldSpec, MappingSpec, TimeSpec
from .paths import getter, plain_key

MODELS: dict[str, type[DomainEntity]] = {m.entity_type: m for m in DOMAIN_MODELS}


def canonical_json(record: Any) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"))


# orjson writes what canonical_json writes, except: non-ASCII and DEL (kept raw, not \\u-escaped),
# floats below 1e-4 (0.00001 and 1e-7 for 1e-05 and 1e-07) and NaN/Infinity (null). Output that
# shows any of those (or a lookalike inside a string) is hashed the slow way.
_SHORT_EXPONENT = re.compile(rb"e-\d[,}\]]")  # 1e-7 (in an object or list); json writes 1e-07
_ORJSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _small_float(fast: bytes) -> bool:
    """A 0.0000… number token (a float json writes as 1e-05): one starting after ':', ',' or '['
    (a timestamp's '00:02:00.000015Z' is not one). bytes.find, because a regex starting with a
    character class tries every position (~7 µs per record)."""
    i = fast.find(b"0.0000")
    while i != -1:
        before = fast[i - 2:i - 1] if fast[i - 1:i] == b"-" else fast[i - 1:i]
        if before in (b":", b",", b"["):
            return True
        i = fast.find(b"0.0000", i + 1)
    return False


def raw_sha256(record: Any) -> str:
    """SHA-256 of canonical_json(record): through orjson (~5x faster) when its bytes are provably
    the same, else through canonical_json itself."""
    try:
        fast = orjson.dumps(record, option=_ORJSON_OPTIONS)
    except TypeError:  # what the json module must judge (non-str keys, big ints, unknown types)
        fast = None
    if fast is not None and fast.isascii() and b"\x7f" not in fast and not isinstance(record, float) \
            and not _small_float(fast) and not _SHORT_EXPONENT.search(fast) \
            and not (b"null" in fast and orjson.loads(fast) != record):
        # null in the output: a NaN or infinity would read back as None, unequal to what it was
        return hashlib.sha256(fast).hexdigest()
    return hashlib.sha256(canonical_json(record).encode()).hexdigest()


def external_id_of(record: Any, spec: MappingSpec) -> str | None:
    return identity_reader(spec.external_id)(record)


def _external_id(record: Any, read: Callable[[Any], Any]) -> str | None:
    value = read(record) if isinstance(record, dict) else None
    if value is None or isinstance(value, (dict, list)) or value == "":
        return None
    return str(value)


def identity_reader(external_id: ExternalId) -> Callable[[Any], str | None]:
    """A record's identity as a function built once: the first candidate whose required parts are all
    set (a composite's parts joined with ':', an absent optional part empty); None when none is."""
    if isinstance(external_id, str):
        read = getter(external_id)
        return lambda record: _external_id(record, read)
    candidates = tuple(
        tuple((getter(p[:-1]), True) if p.endswith("?") else (getter(p), False) for p in
              ([candidate] if isinstance(candidate, str) else candidate))
        for candidate in external_id)

    def identity(record: Any) -> str | None:
        for parts in candidates:
            values = []
            for read, optional in parts:
                value = _external_id(record, read)
                if value is None and not optional:
                    break
                values.append(value or "")
            else:
                return ":".join(values)
        return None
    return identity


def describe_identity(external_id: ExternalId) -> str:
    if isinstance(external_id, str):
        return repr(external_id)
    return " or ".join(repr(c) if isinstance(c, str) else "+".join(c) for c in external_id)


_EPOCH_SCALE = {"epoch_s": 1.0, "epoch_ms": 1000.0}


def time_reader(name: str, spec: TimeSpec) -> Callable[[Any], datetime]:
    """Turns a vendor timestamp written as ``spec`` says into an aware datetime; raises MappingError
    (naming the field, never the value) when it is not written that way."""
    if spec.format in _EPOCH_SCALE:
        scale = _EPOCH_SCALE[spec.format]

        def from_epoch(value: Any) -> datetime:
            try:
                return datetime.fromtimestamp(float(value) / scale, timezone.utc)
            except (TypeError, ValueError, OverflowError, OSError):
                raise MappingError(f"field {name!r}: not an epoch timestamp") from None
        return from_epoch
    if spec.zone is None:
        zone = None
    elif spec.zone == "UTC":
        zone = timezone.utc
    else:
        from zoneinfo import ZoneInfo

        zone = ZoneInfo(spec.zone)

    def from_text(value: Any) -> datetime:
        m = _ISO.match(value) if isinstance(value, str) else None
        if not m:
            raise MappingError(f"field {name!r}: not an ISO-8601 timestamp")
        base, frac, tz = m.groups()
        dt = datetime.fromisoformat(base.replace(" ", "T") + ("." + frac[:6].ljust(6, "0") if frac else ""))
        if tz is not None:
            return dt.replace(tzinfo=_offset(tz))
        if zone is None:
            raise MappingError(f"field {name!r}: timestamp without a UTC offset and no zone declared")
        return dt.replace(tzinfo=zone)
    return from_text


def _field_value(record: dict[str, Any], name: str, spec: FieldSpec | str) -> Any:
    return field_getter(name, spec)(record)


def _host_name(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    name = value.strip().rstrip(".")
    try:
        ipaddress.ip_address(name)
        return None
    except ValueError:
        return name or None


def _short_host(value: Any) -> str | None:
    name = _host_name(value)
    return name.split(".", 1)[0] if name else None


def _fqdn(value: Any) -> str | None:
    name = _host_name(value)
    return name if name and "." in name else None


_HOST_PARTS: dict[str, Callable[[Any], str | None]] = {"short": _short_host, "fqdn": _fqdn}


def field_getter(name: str, spec: FieldSpec | str) -> Callable[[dict[str, Any]], Any]:
    """The value of model field ``name`` in a record, as a function built once from its spec
    (None: the field is left out). Raises MappingError when a value is not in the spec's map."""
    if isinstance(spec, str):
        return getter(spec)
    if spec.const is not None:
        const = spec.const
        source: Callable[[dict[str, Any]], Any] = lambda record: const  # noqa: E731
    elif spec.paths is not None:
        reads = tuple(getter(p) for p in spec.paths)

        def source(record: dict[str, Any]) -> Any:
            value: list[Any] = []
            for read in reads:
                v = read(record)
                if v is None or v == "":
                    continue
                value.extend(v if isinstance(v, list) else [v])
            return value
    elif spec.coalesce is not None:
        reads = tuple(getter(p) for p in spec.coalesce)

        def source(record: dict[str, Any]) -> Any:
            for read in reads:  # a loop, not a generator: this runs for every record
                v = read(record)
                if v is not None and v != "" and v != []:
                    return v
            return None
    elif spec.path is not None:
        source = getter(spec.path)
    else:  # a default alone
        source = lambda record: None  # noqa: E731
    default, lower, as_list = spec.default, spec.lower, spec.as_list
    table, table_default = spec.map, spec.map_default
    as_time = time_reader(name, spec.time) if spec.time is not None else None
    pattern = re.compile(spec.matches) if spec.matches is not None else None
    bands = spec.bands
    host = _HOST_PARTS[spec.host] if spec.host is not None else None
    sep, item = spec.split, spec.item

    def value_of(record: dict[str, Any]) -> Any:
        value = source(record)
        if sep is not None and isinstance(value, str):
            value = [part.strip() for part in value.split(sep) if part.strip()]
        if item is not None and isinstance(value, list):
            value = value[item] if -len(value) <= item < len(value) else None
        if pattern is not None:
            value = kept(value)
        if host is not None:
            value = host(value)
        if value is None or value == "":
            value = default
        if value is None:
            if table is None or table_default is None:
                return None
            value = table_default  # absent: the map's default, as for an unknown value
        elif as_time is not None:
            value = as_time(value)
        else:
            if lower and isinstance(value, str):
                value = value.lower()
            if bands is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
                value = next((v for floor, v in bands if value >= floor), None)
            if table is not None:
                value = translate(value)
        if as_list and not isinstance(value, list):
            value = [value]
        return value

    def kept(value: Any) -> Any:
        if isinstance(value, list):
            return [v for v in value if isinstance(v, str) and pattern.fullmatch(v)]
        return value if isinstance(value, str) and pattern.fullmatch(value) else None

    def translate(value: Any) -> Any:
        # a whole float is the integer's key: GraphQL Float fields (Linear's priority) read as 1.0
        key = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
        if key in table:
            return table[key]
        if table_default is not None:
            return table_default
        raise MappingError(f"field {name!r}: value not in map")
    return value_of


# Set by the platform from the record's identity, never by a mapping.
_RESERVED = frozenset({"entity_id", "org_id", "provenance", "attributes"})


class CompiledMapping:
    """A MappingSpec turned into functions once per connector instance: per record only the
    field getters run, and the contract entity is validated once, from one plain dict (its
    Provenance a dict inside it), so every record is still checked against the contract."""

    def __init__(self, spec: MappingSpec) -> None:
        self.spec = spec
        self.model = model = MODELS[spec.entity]
        self.read_external_id = identity_reader(spec.external_id)
        # (name, key, read): ``key`` when the value is the record's field of that name as it is
        # (most fields and attributes), read inline; else ``read`` builds the value
        def compiled(name: str, fspec: Any) -> tuple:
            if name not in model.model_fields or name in _RESERVED:
                return name, None, _not_a_field(model, name)
            return name, plain_key(fspec) if isinstance(fspec, str) else None, field_getter(name, fspec)

        self._fields = tuple(compiled(name, fspec) for name, fspec in spec.fields.items())
        self._attributes = tuple((attr, plain_key(path), getter(path)) for attr, path in spec.attributes.items())
        self._validate = model.model_validate
        # entity ids per (org, integration): one entry for the one installation an instance serves
        self._ids: dict[tuple[uuid.UUID, str], Callable[[str], uuid.UUID]] = {}

    def map(self, record: Any, *, org_id: uuid.UUID, integration_key: str, provenance: dict[str, Any],
            raw: Any = None, transform: Callable[[dict[str, Any]], None] | None = None) -> DomainEntity:
        """Build the contract event; raises MappingError with a reason free of record values.
        ``provenance`` holds the Provenance fields other than external_id and raw_sha256. ``raw`` is
        the record as the vendor sent it (before ``transform_record``), hashed into the provenance;
        None hashes ``record`` itself. ``transform`` edits the mapped field values in place before
        the contract checks them (an installation's transformation rules)."""
        if not isinstance(record, dict):
            raise MappingError("record is not a JSON object")
        ext = self.read_external_id(record)
        if ext is None:
            raise MappingError(f"missing external id at {describe_identity(self.spec.external_id)}")
        values: dict[str, Any] = {}
        for name, key, read in self._fields:
            v = record.get(key) if key is not None else read(record)
            if v is not None:
                values[name] = v
        if transform is not None:
            transform(values)
        attributes = {}
        for attr, key, read in self._attributes:
            v = record.get(key) if key is not None else read(record)
            if v is not None:
                attributes[attr] = v
        ids = self._ids.get((org_id, integration_key))
        if ids is None:
            ids = self._ids[(org_id, integration_key)] = entity_ids(
                org_id=org_id, integration_key=integration_key, entity_type=self.model.entity_type)
        values["entity_id"] = ids(ext)
        values["org_id"] = org_id
        values["provenance"] = {**provenance, "external_id": ext,
                                "raw_sha256": raw_sha256(record if raw is None else raw)}
        values["attributes"] = attributes
        try:
            return self._validate(values)
        except ValidationError as exc:
            problems = ", ".join(f"{'.'.join(map(str, e['loc']))}: {e['type']}" for e in exc.errors()[:5])
            raise MappingError(f"{self.model.__name__} validation failed ({problems})") from None


def _not_a_field(model: type[DomainEntity], name: str) -> Callable[[dict[str, Any]], Any]:
    def fail(record: dict[str, Any]) -> Any:
        raise MappingError(f"{model.__name__} has no field {name!r}")
    return fail


# --- cursor comparison ---------------------------------------------------------------------

_ISO = re.compile(r"^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$")


def cursor_key(value: Any, cursor_type: str) -> Any:
    """A sortable key for a cursor value; ISO timestamps keep nanosecond fractions."""
    if value is None:
        raise MappingError("cursor value missing")
    if cursor_type == "number":
        try:
            return float(value)
        except (TypeError, ValueError):
            raise MappingError("cursor value is not a number") from None
    if cursor_type == "datetime":
        if isinstance(value, str) and value.isdigit():  # epoch seconds written as text (Tenable's indexed_at)
            value = int(value)
        if isinstance(value, (int, float)):
            return (datetime.fromtimestamp(float(value), timezone.utc).replace(microsecond=0), 0)
        m = _ISO.match(str(value))
        if not m:
            raise MappingError("cursor value is not an ISO-8601 timestamp")
        base, frac, tz = m.groups()
        dt = datetime.fromisoformat(base.replace(" ", "T")).replace(tzinfo=_offset(tz or "Z")).astimezone(timezone.utc)
        return (dt, int((frac or "0")[:9].ljust(9, "0")))
    return str(value)


@functools.lru_cache(maxsize=64)  # a vendor writes one or two offsets: built once each
def _offset(tz: str) -> timezone:
    """'Z', '+02:00' or '+0200' as a fixed offset."""
    if tz == "Z":
        return timezone.utc
    sign = -1 if tz[0] == "-" else 1
    digits = tz[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
