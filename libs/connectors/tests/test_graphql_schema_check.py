"""The GraphQL schema check itself (``aria_connector_testkit.graphql_schema``) on a small schema:
what it must refuse, so that a connector passing it means something."""

from __future__ import annotations

from graphql import build_schema

from aria_connector_testkit.graphql_schema import (
    ResultCheck,
    document_problems,
    first_nullable,
    result_problems,
    variable_problems,
)

SCHEMA = build_schema('''
scalar DateTime
enum Kind { triage started }
type State { name: String! type: Kind! }
type User { id: ID! name: String! }
type Issue { id: ID! title: String! description: String priority: Float! assignee: User state: State!
             completedAt: DateTime }
type PageInfo { hasNextPage: Boolean! endCursor: String }
type IssueConnection { nodes: [Issue!]! pageInfo: PageInfo! }
input IssueCreateInput { title: String! priority: Int }
type IssuePayload { success: Boolean! issue: Issue }
type Query { issues(first: Int, after: String): IssueConnection! }
type Mutation { issueCreate(input: IssueCreateInput!): IssuePayload! }
''')
QUERY = ("query Issues($first: Int, $after: String) { issues(first: $first, after: $after) { "
         "nodes { id title description priority assignee { name } state { type } } pageInfo { hasNextPage endCursor } } }")
ISSUE = {"id": "a", "title": "t", "description": None, "priority": 1, "assignee": None, "state": {"type": "triage"}}


def answer(*nodes):
    return {"issues": {"nodes": list(nodes), "pageInfo": {"hasNextPage": False, "endCursor": None}}}


def test_documents_are_validated_against_the_schema():
    assert document_problems(SCHEMA, QUERY) == []
    assert document_problems(SCHEMA, QUERY.replace("priority", "priorty")) == [
        "Cannot query field 'priorty' on type 'Issue'. Did you mean 'priority'?"]
    assert document_problems(SCHEMA, "mutation M($input: IssueCreateInput) { issueCreate(input: $input) { success } }")


def test_variables_are_coerced_as_the_vendor_would():
    mutation = "mutation M($input: IssueCreateInput!) { issueCreate(input: $input) { success } }"
    assert variable_problems(SCHEMA, mutation, {"input": {"title": "x", "priority": 1}}) == []
    assert variable_problems(SCHEMA, mutation, {"input": {"title": "x", "priority": "1"}})
    assert variable_problems(SCHEMA, mutation, {"input": {"priority": 1}})  # title is non-null


def test_answers_fit_the_result_type():
    assert result_problems(SCHEMA, QUERY, answer(ISSUE)).problems == []
    assert result_problems(SCHEMA, QUERY, answer({**ISSUE, "priority": 1.0})).problems == []
    bad = [{**ISSUE, "title": None}, {k: v for k, v in ISSUE.items() if k != "state"}, {**ISSUE, "priority": "1"},
           {**ISSUE, "state": {"type": "done"}}, {**ISSUE, "assignee": {"name": 7}}, {**ISSUE, "priority": True}]
    problems = [result_problems(SCHEMA, QUERY, answer(node)).problems for node in bad]
    assert [len(p) for p in problems] == [1] * len(bad), problems
    assert "$.issues.nodes[].title: null, but the schema says String! (non-null)" in problems[0]


def test_nullable_fields_the_connector_reads_are_observed():
    check = ResultCheck()
    result_problems(SCHEMA, QUERY, answer(ISSUE, {**ISSUE, "assignee": {"name": "Grace"}}), check=check)
    assert check.observed["$.issues.nodes[].assignee"] == {"null", "value"}
    assert check.observed["$.issues.nodes[].description"] == {"null"}
    assert first_nullable(SCHEMA, QUERY, "data.issues.nodes", "assignee.name") == "$.issues.nodes[].assignee"
    assert first_nullable(SCHEMA, QUERY, "data.issues.nodes", "state.type") is None
    assert first_nullable(SCHEMA, QUERY, "data.issues.nodes", "completedAt") is None  # not selected
