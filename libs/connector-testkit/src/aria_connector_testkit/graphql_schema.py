"""A GraphQL vendor's published schema as the judge of its connector's documents and its simulator's answers.

A connector whose vendor speaks GraphQL declares the vendor's schema (SDL, with its source and
licence next to it) in its ``conformance.yaml``: ``graphql_schema: schema.graphql`` (relative to
the connector's test-kit folder). Then, with no test code per vendor:

* every GraphQL document the manifest sends (streams, push actions and their lookups, connection
  test, health check: any request whose JSON body holds a ``query``) must validate against it;
* every request the connector sends has variables the operation's variable definitions accept
  (an ``Int`` sent as ``"1"`` is refused, as the vendor would);
* every answer of the simulator (seeded mode) must fit the operation's result type: JSON types of
  the scalars, enum values, and nullability - a non-null field is never null or absent, a nullable
  one may be null; ``observed`` records which nullable fields the answers did show null, so a test
  can require the simulator to serve nulls where the schema allows them in fields the connector
  reads (a connector assuming such a field is always set must meet a null).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

from aria_connectors.sdk import ConnectorPlugin
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    build_schema,
    parse,
    validate,
)
from graphql.execution.values import get_variable_values
from graphql.type import get_named_type, is_abstract_type

from . import fixtures, vendor_dir

# JSON types a built-in or common custom scalar arrives as; other custom scalars (JSON,
# JSONObject, ...) are not checked beyond presence.
SCALAR_JSON: dict[str, tuple[type, ...]] = {
    "String": (str,), "ID": (str, int), "Int": (int,), "Float": (int, float), "Boolean": (bool,),
    "DateTime": (str,), "Date": (str,), "TimelessDate": (str,), "DateTimeOrDuration": (str,),
    "UUID": (str,), "URI": (str,), "URL": (str,),
}


@lru_cache(maxsize=None)
def _load(path: str) -> GraphQLSchema:
    return build_schema(Path(path).read_text(encoding="utf-8"))


def schema_for(plugin: ConnectorPlugin) -> GraphQLSchema | None:
    """The vendor schema the connector's ``conformance.yaml`` declares (``graphql_schema``), or None."""
    declared = (fixtures(plugin) or {}).get("graphql_schema")
    folder = vendor_dir(plugin)
    if not declared or folder is None:
        return None
    path = folder / declared
    if not path.is_file():
        raise FileNotFoundError(f"{plugin.key}: graphql_schema {declared!r} not found in {folder}")
    return _load(str(path))


def manifest_documents(plugin: ConnectorPlugin) -> list[tuple[str, str]]:
    """(where, document) of every GraphQL document in the manifest: the ``query`` of any request's
    JSON body, wherever the manifest declares a request."""
    found: list[tuple[str, str]] = []

    def walk(value: Any, where: str) -> None:
        if isinstance(value, dict):
            body = value.get("json")
            if isinstance(body, dict) and isinstance(body.get("query"), str):
                found.append((where, body["query"]))
            for k, v in value.items():
                walk(v, f"{where}.{k}" if where else str(k))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                name = v.get("name") if isinstance(v, dict) else None
                walk(v, f"{where}[{name or i}]")
    walk(plugin.manifest.model_dump(mode="json", by_alias=True, exclude_none=True), "")
    return found


def document_problems(schema: GraphQLSchema, document: str) -> list[str]:
    try:
        ast = parse(document)
    except GraphQLError as exc:
        return [exc.message]
    return [e.message for e in validate(schema, ast)]


def _operation(document: str, name: str | None) -> tuple[OperationDefinitionNode, dict[str, FragmentDefinitionNode]]:
    ast = parse(document)
    ops = [d for d in ast.definitions if isinstance(d, OperationDefinitionNode)]
    op = next((o for o in ops if name is None or (o.name and o.name.value == name)), ops[0])
    frags = {d.name.value: d for d in ast.definitions if isinstance(d, FragmentDefinitionNode)}
    return op, frags


def variable_problems(schema: GraphQLSchema, document: str, variables: dict[str, Any] | None,
                      operation_name: str | None = None) -> list[str]:
    """What the vendor would refuse in the variables the connector sent with the document."""
    op, _ = _operation(document, operation_name)
    result = get_variable_values(schema, op.variable_definitions or (), variables or {})
    return [e.message for e in result] if isinstance(result, list) else []


@dataclass
class ResultCheck:
    problems: list[str] = field(default_factory=list)
    # response path ('$.issues.nodes[].assignee') -> {"null", "value"} seen, for nullable fields
    observed: dict[str, set[str]] = field(default_factory=dict)


def result_problems(schema: GraphQLSchema, document: str, data: Any, operation_name: str | None = None,
                    check: ResultCheck | None = None) -> ResultCheck:
    """Does ``data`` (a response's ``data``) fit the document's result type? Accumulates into ``check``."""
    check = check or ResultCheck()
    op, frags = _operation(document, operation_name)
    root = {OperationType.QUERY: schema.query_type, OperationType.MUTATION: schema.mutation_type,
            OperationType.SUBSCRIPTION: schema.subscription_type}[op.operation]
    if not isinstance(data, dict):
        check.problems.append(f"$: data is {type(data).__name__}, not an object")
        return check
    _object(schema, root, op.selection_set.selections, data, "$", frags, check)
    return check


def _fields(schema: GraphQLSchema, parent: Any, selections: Any, value: dict[str, Any],
            frags: dict[str, FragmentDefinitionNode]) -> Iterator[FieldNode]:
    for sel in selections:
        if isinstance(sel, FieldNode):
            yield sel
            continue
        if isinstance(sel, FragmentSpreadNode):
            frag = frags[sel.name.value]
            condition, inner = frag.type_condition, frag.selection_set.selections
        elif isinstance(sel, InlineFragmentNode):
            condition, inner = sel.type_condition, sel.selection_set.selections
        else:
            continue
        if condition is not None:
            wanted = condition.name.value
            actual = value.get("__typename", parent.name)
            if wanted != actual and not (is_abstract_type(schema.get_type(wanted)) and wanted == parent.name):
                continue
        yield from _fields(schema, parent, inner, value, frags)


def _object(schema: GraphQLSchema, parent: Any, selections: Any, value: dict[str, Any], path: str,
            frags: dict[str, FragmentDefinitionNode], check: ResultCheck) -> None:
    if is_abstract_type(parent):
        concrete = schema.get_type(value.get("__typename", "")) if "__typename" in value else None
        if not isinstance(concrete, GraphQLObjectType):
            check.problems.append(f"{path}: {parent.name} answered without a __typename naming a type")
            return
        parent = concrete
    for node in _fields(schema, parent, selections, value, frags):
        name = node.name.value
        key = node.alias.value if node.alias else name
        where = f"{path}.{key}"
        if name == "__typename":
            if not isinstance(value.get(key), str):
                check.problems.append(f"{where}: __typename is not a string")
            continue
        definition = parent.fields.get(name)
        if definition is None:
            check.problems.append(f"{where}: {parent.name} has no field {name!r}")
            continue
        if key not in value:
            check.problems.append(f"{where}: absent (selected {parent.name}.{name}: {definition.type})")
            continue
        _value(schema, definition.type, node, value[key], where, frags, check)


def _value(schema: GraphQLSchema, gtype: Any, node: FieldNode, value: Any, path: str,
           frags: dict[str, FragmentDefinitionNode], check: ResultCheck) -> None:
    if isinstance(gtype, GraphQLNonNull):
        if value is None:
            check.problems.append(f"{path}: null, but the schema says {gtype} (non-null)")
            return
        gtype = gtype.of_type
    else:
        check.observed.setdefault(path, set()).add("null" if value is None else "value")
        if value is None:
            return
    if isinstance(gtype, GraphQLList):
        if not isinstance(value, list):
            check.problems.append(f"{path}: {type(value).__name__}, but the schema says a list {gtype}")
            return
        for item in value:
            _value(schema, gtype.of_type, node, item, f"{path}[]", frags, check)
        return
    named = get_named_type(gtype)
    if isinstance(named, GraphQLScalarType):
        allowed = SCALAR_JSON.get(named.name)
        if allowed is not None and (not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed)):
            check.problems.append(f"{path}: {value!r} is not a {named.name}")
        return
    if isinstance(named, GraphQLEnumType):
        if value not in named.values:
            check.problems.append(f"{path}: {value!r} is not a value of enum {named.name}")
        return
    if not isinstance(value, dict):
        check.problems.append(f"{path}: {type(value).__name__}, but the schema says an object {named.name}")
        return
    _object(schema, named, node.selection_set.selections if node.selection_set else (), value, path, frags, check)


def first_nullable(schema: GraphQLSchema, document: str, record_path: str, read_path: str,
                      operation_name: str | None = None) -> str | None:
    """The response path of the first nullable field on the way to ``read_path`` (a dotted path the
    mapping reads inside each record at ``record_path``), or None when every field on the way is
    non-null or the path leaves the selection."""
    op, frags = _operation(document, operation_name)
    root = {OperationType.QUERY: schema.query_type, OperationType.MUTATION: schema.mutation_type}[op.operation]
    parent: Any = root
    selections: Any = op.selection_set.selections
    out = "$"
    steps = [s for s in record_path.split(".") if s and s != "data"]
    in_record = False
    for step in [*steps, None, *read_path.split(".")]:
        if step is None:
            in_record = True
            continue
        node = next((n for n in _fields(schema, parent, selections, {}, frags)
                     if (n.alias.value if n.alias else n.name.value) == step), None)
        if node is None or not hasattr(parent, "fields") or node.name.value not in parent.fields:
            return None
        gtype = parent.fields[node.name.value].type
        out += f".{step}"
        if in_record and not isinstance(gtype, GraphQLNonNull):
            return out
        inner = gtype.of_type if isinstance(gtype, GraphQLNonNull) else gtype
        while isinstance(inner, (GraphQLList, GraphQLNonNull)):
            if isinstance(inner, GraphQLList):
                out += "[]"
            inner = inner.of_type
        parent, selections = get_named_type(inner), node.selection_set.selections if node.selection_set else ()
    return None


__all__ = ["ResultCheck", "document_problems", "manifest_documents", "first_nullable", "result_problems",
           "schema_for", "variable_problems"]
