from __future__ import annotations

import pytest

from auditor.normalize import chinese_number_value, normalize


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("全網最低價", "全网最低价"),  # traditional -> simplified
        ("ＴＯＰ１", "top1"),  # full-width -> half-width, lower case
        ("最 好用", "最好用"),  # spaces inside a term
        ("（最好）", "最好"),  # punctuation around it
        ("NO.1", "no1"),
        ("百分之百", "100%"),
        ("好评率百分之百 一个差评都没有", "好评率100%1个差评都没有"),
        ("百分之一百一十", "110%"),
        ("百分之九十九", "99%"),
        ("原价三百九十九，只要三十九", "原价399只要39"),
        ("已卖十万单", "已卖100000单"),
        ("一百五", "150"),  # spoken shorthand for 150
        ("两百零五", "205"),
        ("二零二四年", "2024年"),
        ("百货千万别错过", "百货千万别错过"),  # units alone are words, not numbers
        ("100%纯棉", "100%纯棉"),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text).text == expected


@pytest.mark.parametrize(
    ("run", "value"),
    [
        ("九十九", 99),
        ("十", 10),
        ("十五", 15),
        ("一万五千", 15000),
        ("3万", 30000),
        ("一亿", 100_000_000),
        ("三千五", 3500),
        ("百", None),
        ("万", None),
    ],
)
def test_chinese_number_value(run: str, value: int | None) -> None:
    assert chinese_number_value(run) == value


def test_offsets_map_back_to_the_original_text() -> None:
    text = "今天 全網·最低價！原价三百九十九"
    norm = normalize(text)
    start = norm.text.index("全网最低价")
    a, b = norm.source_span(start, start + len("全网最低价"))
    assert text[a:b] == "全網·最低價"
    start = norm.text.index("399")
    a, b = norm.source_span(start, start + 3)
    assert text[a:b] == "三百九十九"


def test_normalising_twice_changes_nothing() -> None:
    for text in ("全網最低價，百分之百有效", "ＮＯ．１ 顶 级", "一百五十块"):
        once = normalize(text).text
        assert normalize(once).text == once
