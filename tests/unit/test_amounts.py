"""Money amounts as applicants write them: exact Decimals or None."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.amounts import parse_amount, parse_chinese_int


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1,200", "1200"),
        ("1200元", "1200"),
        ("￥1,200.00", "1200"),
        ("¥1200", "1200"),
        ("0.12万元", "1200"),
        ("1.2千元", "1200"),
        ("１２００元", "1200"),
        ("１，２００．５０", "1200.50"),
        ("肆仟元整", "4000"),
        ("叁仟伍佰元", "3500"),
        ("壹万贰仟叁佰肆拾伍元陆角柒分", "12345.67"),
        ("人民币贰佰元零伍分", "200.05"),
        ("拾元", "10"),
        ("四千元", "4000"),
        ("5人×200元=1000元", "1000"),
        ("3 800.50", "3800.50"),
        ("约 800 元", "800"),
        # digits between Chinese units, as typed in a hurry
        ("3千6百元", "3600"),
        ("1万2千元", "12000"),
        ("3千5", "3500"),
        ("1万2", "12000"),
        ("2万5千3百元", "25300"),
        ("3千500元", "3500"),
        ("1千零50元", "1050"),
        ("1千零5元", "1005"),
    ],
)
def test_amounts(text, expected):
    value = parse_amount(text)
    assert isinstance(value, Decimal)
    assert value == Decimal(expected)


@pytest.mark.parametrize("text", ["", "无", "待定", "第一批", "元", "   "])
def test_no_number_is_none(text):
    assert parse_amount(text) is None


def test_result_is_exact_not_float():
    assert parse_amount("0.1万") + parse_amount("0.2万") == Decimal("3000")
    assert parse_amount("0.10") + parse_amount("0.20") == Decimal("0.30")


@pytest.mark.parametrize("text, expected", [("壹万贰仟零伍", 12005), ("十五", 15), ("二〇二五", 2025), ("三亿零五万", 300050000)])
def test_chinese_integers(text, expected):
    assert parse_chinese_int(text) == expected


@given(st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False))
def test_formatted_amounts_round_trip(value):
    for text in (f"{value}", f"{value:,}", f"￥{value:,.2f}", f"{value}元"):
        assert parse_amount(text) == value


@pytest.mark.parametrize(
    "text, unit, expected",
    [
        ("0.44", 10000, "4400"),  # under a 金额（万元） header
        ("0.36", 1000, "360"),
        ("0.12万元", 10000, "1200"),  # its own unit: not multiplied twice
        ("1200元", 10000, "1200"),
        ("叁仟陆佰元整", 10000, "3600"),
        ("1200", 1, "1200"),
    ],
)
def test_a_bare_number_counts_in_the_column_unit(text, unit, expected):
    assert parse_amount(text, unit=unit) == Decimal(expected)
