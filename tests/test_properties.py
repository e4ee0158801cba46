"""Properties of the normaliser and scanner on arbitrary text (hypothesis)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.lexicon import load_lexicon
from auditor.normalize import normalize
from auditor.scan import Scanner

SCANNER = Scanner(load_lexicon())
# Arbitrary Unicode, and text made of the characters claims are made of, so both the odd and the
# likely are tried.
CLAIMISH = st.text(
    alphabet=st.sampled_from(
        list("最好第一全网低价百分之九十永久国家级治疗防癌稳赚 ，。！\n1%两万NO.")
    ),
    max_size=60,
)
ANY_TEXT = st.one_of(st.text(max_size=80), CLAIMISH)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ANY_TEXT)
def test_normalize_never_raises_and_offsets_stay_inside(text: str) -> None:
    norm = normalize(text)
    assert len(norm.starts) == len(norm.ends) == len(norm.text)
    for a, b in zip(norm.starts.tolist(), norm.ends.tolist(), strict=True):
        assert 0 <= a < b <= len(text)
    assert list(norm.starts) == sorted(norm.starts)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ANY_TEXT)
def test_normalising_twice_changes_nothing(text: str) -> None:
    once = normalize(text).text
    assert normalize(once).text == once


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ANY_TEXT)
def test_scanner_spans_are_the_text_they_report(text: str) -> None:
    for match in SCANNER.scan(text):
        assert 0 <= match.start < match.end <= len(text)
        assert 0 <= match.norm_start < match.norm_end
        assert "\n" not in text[match.start : match.end].strip("\n") or match.kind == "pattern"
