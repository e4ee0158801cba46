"""`scan-text` findings point at exactly the text they report (issue 7), on arbitrary text."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.detect import scan_lines
from auditor.lexicon import load_lexicon
from auditor.scan import Scanner

SCANNER = Scanner(load_lexicon())
# Claims, their traditional and full-width spellings, spoken numbers, and the characters that
# break lines or hide in them (CR, NEL, LS, tab, zero-width space), so matches land near edges.
CLAIMISH = st.text(
    alphabet=st.sampled_from(
        list("最好第一全网低價价百分之九十永久國国家级級治疗防癌稳赚原只要今天")
        + list("１０％ＮＯ.， 。!\n\r\t\x85\u2028\u200b")
    ),
    max_size=80,
)
LINES = st.lists(st.one_of(st.text(max_size=30), CLAIMISH), max_size=6).map("\n".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(CLAIMISH, LINES), st.integers(min_value=1, max_value=10**6))
def test_every_finding_slices_to_its_matched_text(text: str, first_line: int) -> None:
    lines = text.split("\n")  # scan-text's lines: one utterance per line
    for finding in scan_lines(SCANNER, text, first_line):
        index = finding.line - first_line
        assert 0 <= index < len(lines)
        line = lines[index]
        assert 0 <= finding.char_start < finding.char_end <= len(line)
        assert line[finding.char_start : finding.char_end] == finding.matched
        assert "\n" not in finding.matched  # a claim never spans two lines
        assert not finding.matched[0].isspace() and not finding.matched[-1].isspace()


def test_the_property_is_not_empty() -> None:
    text = "开场白\n这个是全网最低价，\r\n國家級的品质"
    findings = scan_lines(SCANNER, text, 5)
    assert {f.line for f in findings} == {6, 7}
    for f in findings:
        line = text.split("\n")[f.line - 5]
        assert line[f.char_start : f.char_end] == f.matched


def test_blocks_in_parallel_processes_find_what_one_pass_finds() -> None:
    """scan_blocks with forked processes: same findings, same order, lines counted across
    blocks, as scanning the whole text at once."""
    from pathlib import Path

    from auditor.detect import scan_blocks

    rows = (Path(__file__).parent / "data" / "devset.tsv").read_text(encoding="utf-8")
    lines = [row.split("\t")[2] for row in rows.splitlines()[1:]]
    text = "\n".join(lines) + "\n"
    blocks = ["\n".join(lines[i : i + 97]) + "\n" for i in range(0, len(lines), 97)]
    assert "".join(blocks) == text and len(blocks) > 2
    whole = scan_lines(SCANNER, text)
    assert len(whole) > 100
    for jobs in (1, 2):
        found = [f for block in scan_blocks(SCANNER, blocks, jobs) for f in block]
        assert found == whole
    assert list(scan_blocks(SCANNER, [], 2)) == []


def test_a_long_text_scanned_in_blocks_finds_what_each_line_alone_finds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """scan_lines cuts a long text into blocks of whole lines: the findings are those of each
    line scanned alone, with the lines numbered across blocks."""
    from pathlib import Path

    from auditor import detect

    rows = (Path(__file__).parent / "data" / "real" / "dev.tsv").read_text(encoding="utf-8")
    lines = [row.split("\t")[3] for row in rows.splitlines()[1:]][:600]
    text = "\n".join(lines)
    one_by_one = [f for i, line in enumerate(lines) for f in scan_lines(SCANNER, line, i + 3)]
    assert len(one_by_one) > 200
    monkeypatch.setattr(detect, "SCAN_BLOCK", 700)  # dozens of blocks
    assert scan_lines(SCANNER, text, 3) == one_by_one
    assert scan_lines(SCANNER, "") == []
