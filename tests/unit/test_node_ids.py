"""Global ids (DESIGN 10): encoding, the one parser of ids, and the tables every ID input goes through."""

from __future__ import annotations

import base64

import pytest
from graphql import GraphQLInputObjectType, GraphQLInterfaceType, GraphQLObjectType, get_named_type

from domain.codes import RuleCode
from domain.ids import KINDS, decode_global_id, global_id
from domain.limits import ID_MAX, NODES_MAX, BadInput, parse_id
from schema import build_schema
from schema.node_ids import ID_INPUTS
from schema.nodes import FETCH
from schema.pagination import PageInfo, Window, connection, window


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_global_id_decodes_to_the_type_and_number_it_was_made_from(kind: str) -> None:
    for number in (1, 42, ID_MAX):
        made = global_id(kind, number)
        assert decode_global_id(made) == (kind, number)
        assert "=" not in made and made.isascii()


def test_a_global_id_is_opaque_urlsafe_base64_of_type_and_number() -> None:
    assert global_id("Deal", 123) == base64.urlsafe_b64encode(b"Deal:123").decode().rstrip("=")


@pytest.mark.parametrize(
    "value",
    [
        "",
        "123",
        "Deal:123",
        base64.urlsafe_b64encode(b"Deal:123").decode(),  # padded: not the spelling given out
        base64.urlsafe_b64encode(b"Nothing:1").decode().rstrip("="),  # no such type
        base64.urlsafe_b64encode(b"Deal:0").decode().rstrip("="),
        base64.urlsafe_b64encode(b"Deal:-1").decode().rstrip("="),
        base64.urlsafe_b64encode(b"Deal:007").decode().rstrip("="),
        base64.urlsafe_b64encode(b"Deal:1:2").decode().rstrip("="),
        base64.urlsafe_b64encode(b"Deal:99999999999999999999").decode().rstrip("="),
        "%%%",
        "A" * 500,
    ],
)
def test_anything_not_given_out_as_a_global_id_does_not_decode(value: str) -> None:
    assert decode_global_id(value) is None


def test_parse_id_takes_the_plain_record_id_and_the_global_id() -> None:
    assert parse_id("17") == 17
    assert parse_id(17) == 17
    assert parse_id(global_id("Deal", 17), ("input", "dealId"), ("Deal",)) == 17


def test_a_global_id_of_another_type_is_refused_naming_the_field() -> None:
    with pytest.raises(BadInput) as refused:
        parse_id(global_id("Contact", 17), ("input", "dealId"), ("Deal",))
    assert refused.value.code is RuleCode.BAD_ID
    assert refused.value.field == ("input", "dealId")
    assert "input.dealId takes the id of a Deal, not of a Contact" in str(refused.value)


def test_a_task_and_an_engagement_are_one_object_by_either_name() -> None:
    assert parse_id(global_id("Engagement", 5), ("input", "id"), ("Task",)) == 5


@pytest.mark.parametrize("value", ["abc", "-1", "0", str(ID_MAX + 1), "1.5", True, None, 0])
def test_what_is_neither_form_of_id_is_bad_id(value: object) -> None:
    with pytest.raises(BadInput) as refused:
        parse_id(value, ("id",))
    assert refused.value.code is RuleCode.BAD_ID


def _id_inputs() -> set[str]:
    schema = build_schema(dev=False)._schema
    found: set[str] = set()
    for name, type_ in schema.type_map.items():
        if name.startswith("__"):
            continue
        if isinstance(type_, GraphQLInputObjectType):
            found |= {f"{name}.{f}" for f, d in type_.fields.items() if get_named_type(d.type).name == "ID"}
        elif isinstance(type_, GraphQLObjectType):
            for field, definition in type_.fields.items():
                for arg, arg_def in definition.args.items():
                    if get_named_type(arg_def.type).name == "ID":
                        found.add(f"{name}.{field}.{arg}")
    return found


def test_every_id_argument_and_input_field_says_which_type_of_object_it_takes() -> None:
    assert set(ID_INPUTS) == _id_inputs()


def test_node_fetches_every_type_that_implements_node() -> None:
    schema = build_schema(dev=False)._schema
    node = schema.type_map["Node"]
    assert isinstance(node, GraphQLInterfaceType)
    implementing = {t.name for t in schema.get_possible_types(node)}
    assert implementing == set(FETCH)
    assert implementing <= KINDS


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"first": 2, "last": 2}, "last"),
        ({"after": "W10=", "before": "W10="}, "before"),
        ({"first": 2, "before": "W10="}, "first"),
        ({"after": "W10=", "last": 2}, "after"),
        ({"last": 201}, "last"),
        ({"last": -1}, "last"),
    ],
)
def test_a_page_goes_one_way_at_a_time(given: dict[str, object], field: str) -> None:
    with pytest.raises(BadInput) as refused:
        window(**given)  # type: ignore[arg-type]
    assert refused.value.field == (field,)


def test_without_first_or_last_a_page_is_the_first_fifty() -> None:
    assert window(None, None) == Window(50, None, backward=False)


def test_a_backward_page_shows_its_rows_in_the_lists_order() -> None:
    async def count() -> int:
        return 9

    fetched = [9, 8, 7]  # nearest the cursor first: one more than the page asked for
    page = connection(fetched, Window(2, [10], backward=True), str, lambda n: [n], count)
    assert [e.node for e in page.edges] == ["8", "9"]
    assert page.page_info == PageInfo(
        has_next_page=False,
        has_previous_page=True,
        start_cursor=page.edges[0].cursor,
        end_cursor=page.edges[-1].cursor,
    )


def test_a_forward_page_says_whether_more_follow() -> None:
    async def count() -> int:
        return 2

    page = connection([1, 2], Window(2, None), str, lambda n: [n], count)
    assert [e.node for e in page.edges] == ["1", "2"]
    assert not page.page_info.has_next_page and not page.page_info.has_previous_page
    empty = connection([], Window(2, None), str, lambda n: [n], count)
    assert empty.page_info.start_cursor is None and empty.page_info.end_cursor is None


def test_nodes_costs_one_object_per_id_it_is_given() -> None:
    from graphql import OperationDefinitionNode, parse

    from schema.complexity import Estimate

    schema = build_schema(dev=False)._schema
    for ids, expected in (('["a", "b", "c"]', 3), ("$ids", NODES_MAX)):
        operation = parse(f"query($ids: [ID!]!) {{ nodes(ids: {ids}) {{ id }} }}").definitions[0]
        assert isinstance(operation, OperationDefinitionNode)
        cost = Estimate(schema, {}).cost(operation.selection_set, schema.query_type, frozenset())
        assert cost == 1 + expected
