"""Lexicons are data, validated on load with errors that name the file and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.errors import LexiconError
from auditor.lexicon import builtin_files, load_lexicon
from auditor.scan import Scanner
from tests.conftest import run_cli

RULES_CATEGORIES = {
    "absolute.superlative",
    "absolute.guarantee",
    "authority.state",
    "medical.claim",
    "medical.efficacy",
    "food.disease_claim",
    "cosmetics.special_claim",
    "education.guarantee",
    "finance.guarantee",
    "price.fake_reference",
    "urgency.inducement",
    "data.fake_traffic",
    "conduct.disparage",
    "superstition",
    "diversion.offplatform",
}


def test_builtin_lexicon_covers_every_category_with_five_terms() -> None:
    lex = load_lexicon()
    assert set(lex.categories) == RULES_CATEGORIES
    for category, n in lex.counts().items():
        assert n["terms"] + n["patterns"] >= 5, category


def test_version_is_a_content_hash(tmp_path: Path) -> None:
    extra = tmp_path / "extra.toml"
    extra.write_text('allow = ["只此一家"]\n', encoding="utf-8")
    assert load_lexicon().version == load_lexicon().version
    assert load_lexicon([extra]).version != load_lexicon().version


def _error_for(tmp_path: Path, text: str) -> LexiconError:
    path = tmp_path / "custom.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LexiconError) as info:
        load_lexicon([path])
    assert str(path) in str(info.value)
    return info.value


def test_malformed_toml_names_the_line(tmp_path: Path) -> None:
    err = _error_for(tmp_path, '[[rule]]\nid = "superstition/x"\nterms = ["a", \n')
    assert err.line is not None and err.line >= 3
    assert "invalid TOML" in str(err)


def test_unknown_category(tmp_path: Path) -> None:
    err = _error_for(
        tmp_path, '\n\n[[rule]]\nid = "magic.words/x"\ncategory = "magic.words"\nterms = ["咒语"]\n'
    )
    assert err.line == 3
    assert "unknown category 'magic.words'" in str(err)


def test_invalid_pattern(tmp_path: Path) -> None:
    err = _error_for(
        tmp_path,
        '[[rule]]\nid = "superstition/x"\ncategory = "superstition"\npatterns = ["(unclosed"]\n',
    )
    assert err.line == 1 and "invalid pattern" in str(err)


def test_duplicate_rule_id_in_one_file(tmp_path: Path) -> None:
    rule = '[[rule]]\nid = "superstition/x"\ncategory = "superstition"\nterms = ["风水宝物"]\n'
    err = _error_for(tmp_path, rule + "\n" + rule)
    assert err.line == 6 and "duplicate rule id" in str(err)


def test_custom_lexicon_adds_overrides_disables_and_allows(tmp_path: Path) -> None:
    custom = tmp_path / "platform.toml"
    custom.write_text(
        'disable = ["superstition/fortune"]\nallow = ["全网最低价格保护"]\n\n'
        '[[rule]]\nid = "diversion.offplatform/platform-words"\n'
        'category = "diversion.offplatform"\n'
        'severity = "high"\nterms = ["去拼夕夕买"]\n',
        encoding="utf-8",
    )
    scanner = Scanner(load_lexicon([custom]))
    [hit] = scanner.scan("大家去拼夕夕买更便宜")
    assert hit.rule.severity == "high"
    assert scanner.scan("这个摆件可以辟邪") == []
    assert scanner.scan("我们有全网最低价格保护") == []
    assert scanner.scan("全网最低价") != []


def test_builtin_files_are_all_valid() -> None:
    assert len(builtin_files()) >= 2
    done = run_cli("lexicon", "check")
    assert done.returncode == 0 and done.stdout.startswith("ok:")


def test_lexicon_check_reports_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[exemption]]\nid = "x"\nkind = "sideways"\n', encoding="utf-8")
    done = run_cli("lexicon", "check", str(bad))
    assert done.returncode == 2
    assert f"{bad}:1:" in done.stderr and "kind must be one of" in done.stderr


def test_lexicon_list_shows_categories_and_version() -> None:
    done = run_cli("lexicon", "list")
    assert done.returncode == 0
    assert "lexicon version" in done.stdout
    for category in RULES_CATEGORIES:
        assert category in done.stdout


def test_builtin_lexicons_are_those_of_this_checkout() -> None:
    """Run from a source checkout (a worktree beside an editable install of another), the
    built-in lexicons are this checkout's, not the installed mapping's."""
    here = Path(__file__).resolve().parent.parent / "lexicons"
    assert all(path.parent == here for path in builtin_files())


def test_builtin_patterns_are_written_as_the_scanner_sees_text() -> None:
    """Patterns run over normalised text, where 三高 is 3高, 一定 is 1定 and 零售价 is 0售价: a
    pattern that spells a word the normaliser rewrites can never match it."""
    import re

    from auditor.normalize import normalize

    lexicon = load_lexicon()
    patterns = [(r.id, p.pattern) for r in lexicon.rules for p in r.patterns]
    patterns += [(c.id, p.pattern) for c in lexicon.classes.values() for p in c.patterns]
    patterns += [(e.id, e.pattern.pattern) for e in lexicon.exemptions if e.pattern is not None]
    unseen = [
        (where, run, normalize(run).text)
        for where, source in patterns
        for run in re.findall(r"[\u4e00-\u9fff]+", source)
        if normalize(run).text != run
    ]
    assert unseen == []
