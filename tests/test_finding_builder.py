"""One builder for every finding: `scan-text` and `audit` say the same about the same words."""

from __future__ import annotations

import pytest

from auditor.detect import scan_lines, scan_transcript
from auditor.lexicon import load_lexicon
from auditor.options import PRODUCT_CATEGORIES
from auditor.scan import Scanner
from auditor.transcript import Segment, Transcript, Word
from tests.conftest import run_cli

LEXICON = load_lexicon()
# Claims whose severity depends on the product sold (superlatives are high for cosmetics, drugs,
# health food and devices), and some that do not.
TEXT = "这款面霜效果最好，热销全网第一，吃了降血压，原价399今天只要39，加我微信"


def _transcript(text: str) -> Transcript:
    words = tuple(Word(0.3 * i, 0.3 * i + 0.25, ch, 0.9) for i, ch in enumerate(text))
    return Transcript((Segment(0.0, 0.3 * len(text), text, words),), "zh", 0.3 * len(text))


@pytest.mark.parametrize("product", PRODUCT_CATEGORIES)
def test_text_and_speech_findings_agree_for_every_product(product: str) -> None:
    scanner = Scanner(LEXICON, product)
    spoken = scan_transcript("x.wav", _transcript(TEXT), scanner)
    written = scan_lines(scanner, TEXT)
    assert spoken, "the sentence holds claims"
    assert sorted((f.rule, f.matched, f.severity) for f in spoken) == sorted(
        (f.rule, f.matched, f.severity) for f in written
    )


def test_severity_follows_the_product_in_scan_text() -> None:
    general = run_cli("scan-text", "-", "--format", "jsonl", stdin="这款面霜效果最好\n")
    cosmetics = run_cli(
        "scan-text", "-", "--format", "jsonl", "--product-category", "cosmetics",
        stdin="这款面霜效果最好\n",
    )  # fmt: skip
    assert general.returncode == 0 and '"severity": "medium"' in general.stdout
    assert cosmetics.returncode == 1 and '"severity": "high"' in cosmetics.stdout
