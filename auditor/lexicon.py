"""Lexicon loading and validation. Lexicons are TOML data in `lexicons/`; see lexicons/README.md.

A lexicon file may hold:
  [category."<id>"]   (built-in categories file only) legal_basis, severity, title
  [[class]]           id, terms and/or patterns: a word class that rules combine (a later entry
                      with the same id adds to the class)
  [[rule]]            id, category, terms and/or patterns and/or parts (classes combined);
                      optional severity, legal_basis, note
  [[exemption]]       id, kind = phrase|before|after|clause, phrases or pattern; optional
                      categories, terms
  enable = ["learned"] turns on the learned model (auditor.learned; `--learned`)
  disable = [...]     rule ids to switch off (custom lexicons; "learned": the model)
  allow = [...]       phrases that are never a claim (custom lexicons)
Later files override earlier rules with the same id.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from auditor.errors import LexiconError
from auditor.learned import LearnedModel, load_model
from auditor.normalize import normalize_term
from auditor.options import PRODUCT_CATEGORIES
from auditor.severity import SEVERITIES

SOUNDALIKE_MODES = ("context", "always", "never")
EXEMPTION_KINDS = ("phrase", "before", "after", "clause")
PART_ORDERS = ("given", "any")
SPANS = ("clause", "sentence")
DEFAULT_GAP = 6  # normalised characters allowed between two parts of a combination
PART_KEYS = frozenset({"name", "class", "gap"})
_CLASS_ID = re.compile(r"^[a-z][a-z0-9_]*$")
CATEGORIES_FILE = "categories.toml"
LEARNED_FILE = "learned.tsv"  # the built-in learned model, beside the TOML files
LEARNED = "learned"  # its id, for `enable` and `disable`
# What `--learned` adds to the extra lexicons: the name of a built-in file that only turns the
# learned model on. A name rather than a path, so that batch workers on other machines (Ray) read
# their own installation's file.
LEARNED_SWITCH = "builtin:learned"
_LEARNED_SWITCH_FILE = Path("optional") / "learned.toml"
_RULE_ID = re.compile(r"^[a-z_]+\.[a-z_]+/[a-z0-9_.-]+$|^[a-z_]+/[a-z0-9_.-]+$")


@dataclass(frozen=True)
class Category:
    id: str
    title: str
    legal_basis: str
    severity: str
    # Words that make a sound-alike match of this category plausible nearby (保健品 for 防癌).
    context: tuple[str, ...] = ()
    severity_by_product: tuple[tuple[str, str], ...] = ()
    # The category a claim of this kind is, for some goods: a disease claim is medical.claim for a
    # massage chair, food.disease_claim for a tea and cosmetics.special_claim for a cream.
    as_product: tuple[tuple[str, str], ...] = ()
    # A claim of this category gives way when the same words make a claim of another category
    # (最低价: a price claim rather than a superlative).
    fallback: bool = False
    # Products whose sale is context enough for rules that need it (a cream for 激素).
    implied_by: frozenset[str] = frozenset()

    def for_product(self, product: str) -> str:
        for name, category in self.as_product:
            if name == product:
                return category
        return self.id


@dataclass(frozen=True)
class WordClass:
    """Words that play one part in claims (efficacy verbs, diseases, price anchors ...).

    Terms are matched after normalisation like rule terms; patterns (amounts: 799元, 3位数) are
    regular expressions over normalised text.
    """

    id: str
    terms: tuple[str, ...]  # normalised
    patterns: tuple[re.Pattern[str], ...]
    origin: str


@dataclass(frozen=True)
class Part:
    """One part of a combination rule: a word class (or words of its own), by the name the
    finding's `why` gives it (predicate, object, anchor, amount ...)."""

    name: str
    word_class: str
    # How far this part may start after the one before, when not the rule's `gap`: a price
    # comparison often says a lot between the reference price and the current one.
    gap: int | None = None


@dataclass(frozen=True)
class Combination:
    """A claim made of parts: each part's words within `gap` normalised characters of the next,
    in the given order or either order (two parts), inside one clause or sentence."""

    parts: tuple[Part, ...]
    order: str = "given"
    gap: int = DEFAULT_GAP
    span: str = "clause"
    # The part whose words are looked for in the whole text (the rarest, most telling one: the
    # disease, not the verb); the others are looked for only around its words.
    lead: int = 0


@dataclass(frozen=True)
class WordRule:
    """A claim made of a head character and the word after it, told apart with jieba:
    最 + 便宜 is a claim, 最近 is one word of its own."""

    head: str
    pos: frozenset[str]  # jieba part-of-speech tags of the following word that make a claim
    words: frozenset[str]  # words that make a claim whatever their tag (流行, 受欢迎)
    exceptions: frozenset[str]  # whole words starting with the head that are not claims (最近)


@dataclass(frozen=True)
class Rule:
    id: str
    category: str
    severity: str
    legal_basis: str
    terms: tuple[str, ...]  # as written in the lexicon
    patterns: tuple[re.Pattern[str], ...]  # applied to normalised text
    origin: str  # file:line, for messages
    products: frozenset[str] | None = None  # None: every product; else only these
    soundalike: str = "context"
    word: WordRule | None = None
    severity_by_product: tuple[tuple[str, str], ...] = ()
    combination: Combination | None = None
    # Only with the category's context words near (or inside) the match, or when the product sold
    # is one the category implies (categories.toml `implied_by`): for words ordinary speech uses.
    needs_context: bool = False

    def severity_for(self, product: str) -> str:
        for name, severity in self.severity_by_product:
            if name == product:
                return severity
        return self.severity


@dataclass(frozen=True)
class Exemption:
    id: str
    kind: str
    phrases: tuple[str, ...] = ()
    pattern: re.Pattern[str] | None = None
    categories: frozenset[str] | None = None  # None: every category
    terms: frozenset[str] | None = None  # normalised terms it applies to; None: all
    window: int = 12
    origin: str = ""
    products: frozenset[str] | None = None  # None: whatever the product
    span: str = "clause"  # kind clause: the clause holding the match, or its whole sentence
    rules: frozenset[str] | None = None  # rule ids it applies to; None: any

    def applies_to(
        self,
        category: str,
        term: str | None,
        product: str = "general",
        defined_as: str | None = None,
        rule: str | None = None,
    ) -> bool:
        """Whether this exemption can clear a match of `category` (`defined_as`: the category its
        rule is defined under, when the product routed it to another; `rule`: its rule id)."""
        if self.products is not None and product not in self.products:
            return False
        if self.rules is not None and rule not in self.rules:
            return False
        if (
            self.categories is not None
            and category not in self.categories
            and defined_as not in self.categories
        ):
            return False
        return self.terms is None or (term is not None and normalize_term(term) in self.terms)


@dataclass(frozen=True)
class Lexicon:
    categories: dict[str, Category]
    rules: tuple[Rule, ...]
    exemptions: tuple[Exemption, ...]
    files: tuple[str, ...]
    version: str  # content hash of every file that went in, in order
    classes: dict[str, WordClass] = field(default_factory=dict)
    # Claims no rule names, found by a model learned from the labelled sets (auditor.learned);
    # None unless a lexicon file enables it (`--learned`) and no later one disables it.
    learned: LearnedModel | None = None

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {
            c: {"rules": 0, "terms": 0, "patterns": 0, "combinations": 0} for c in self.categories
        }
        for rule in self.rules:
            out[rule.category]["rules"] += 1
            out[rule.category]["terms"] += len(rule.terms)
            out[rule.category]["patterns"] += len(rule.patterns)
            out[rule.category]["combinations"] += rule.combination is not None
        return out


def builtin_lexicon_dir() -> Path:
    """The built-in lexicons: those of the source checkout this package was imported from, when it
    was (a checkout beside an editable install of another checkout must not read that one's
    lexicons), else the installed package data."""
    checkout = Path(__file__).resolve().parent.parent
    source = checkout / "lexicons"
    if (checkout / "pyproject.toml").is_file() and (source / CATEGORIES_FILE).is_file():
        return source
    try:
        folder = Path(str(resources.files("auditor.lexicons")))
        if (folder / CATEGORIES_FILE).is_file():
            return folder
    except ModuleNotFoundError:
        pass
    return Path(__file__).resolve().parent.parent / "lexicons"


def builtin_files() -> list[Path]:
    folder = builtin_lexicon_dir()
    rest = sorted(p for p in folder.glob("*.toml") if p.name != CATEGORIES_FILE)
    return [folder / CATEGORIES_FILE, *rest]


def _table_lines(text: str, header: str) -> list[int]:
    """Line numbers (1-based) of each `[[header]]`, in order: tomllib does not report them."""
    marker = re.compile(rf"^\s*\[\[\s*{re.escape(header)}\s*\]\]")
    return [n for n, line in enumerate(text.splitlines(), 1) if marker.match(line)]


def _line_of(text: str, needle: str) -> int | None:
    for n, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return n
    return None


class _Builder:
    def __init__(self) -> None:
        self.categories: dict[str, Category] = {}
        self.classes: dict[str, WordClass] = {}
        self.class_refs: list[tuple[str, int, str, tuple[Part, ...]]] = []
        self.rule_refs: list[tuple[str, int, str, list[str]]] = []  # exemptions naming rules
        self.defined: set[str] = set()  # every rule id defined, disabled ones included
        self.rules: dict[str, Rule] = {}
        self.exemptions: list[Exemption] = []
        self.files: list[str] = []
        self.digest = hashlib.sha256()
        self.want_learned = False  # a file said enable = ["learned"] (and none disabled it since)

    def _learned(self, path: Path) -> LearnedModel:
        """The learned model, its content counted in the lexicon version."""
        model = load_model(path, list(self.categories))
        self.digest.update(path.name.encode() + b"\0" + model.version.encode() + b"\0")
        self.files.append(str(path))
        return model

    def add_file(self, path: Path, allow_categories: bool) -> None:
        name = str(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise LexiconError(name, None, f"cannot read: {exc.strerror or exc}") from exc
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise LexiconError(name, None, f"not UTF-8 ({exc.reason} at byte {exc.start})") from exc
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            match = re.search(r"\(at line (\d+), column \d+\)", str(exc))
            line = int(match.group(1)) if match else None
            if line is None and "end of document" in str(exc):
                line = max(1, len(text.splitlines()))
            problem = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", str(exc))
            raise LexiconError(name, line, f"invalid TOML: {problem}") from exc
        self.digest.update(path.name.encode() + b"\0" + raw + b"\0")
        self.files.append(name)

        known = {"category", "class", "rule", "exemption", "enable", "disable", "allow", "lexicon"}
        for key in data:
            if key not in known:
                raise LexiconError(
                    name,
                    _line_of(text, key),
                    f"unknown top-level key {key!r} (expected one of {', '.join(sorted(known))})",
                )
        if "category" in data:
            if not allow_categories:
                raise LexiconError(
                    name,
                    _line_of(text, "[category"),
                    "categories come from the rule taxonomy and cannot be added "
                    "by a custom lexicon",
                )
            self._categories(name, text, data["category"])
        for line, entry in zip(_table_lines(text, "class"), data.get("class", []), strict=False):
            self._class(name, line, entry)
        for line, entry in zip(_table_lines(text, "rule"), data.get("rule", []), strict=False):
            self._rule(name, line, entry)
        for line, entry in zip(
            _table_lines(text, "exemption"), data.get("exemption", []), strict=False
        ):
            self._exemption(name, line, entry)
        for switch in _str_list(name, _line_of(text, "enable"), data.get("enable", []), "enable"):
            if switch != LEARNED:
                raise LexiconError(
                    name, _line_of(text, "enable"), f"enable: only {LEARNED!r} can be enabled"
                )
            self.want_learned = True
        for rule_id in _str_list(
            name, _line_of(text, "disable"), data.get("disable", []), "disable"
        ):
            if rule_id == LEARNED:
                self.want_learned = False
                continue
            if rule_id not in self.rules:
                raise LexiconError(
                    name, _line_of(text, rule_id), f"disable: no rule {rule_id!r} to disable"
                )
            del self.rules[rule_id]
        allow = _str_list(name, _line_of(text, "allow"), data.get("allow", []), "allow")
        if allow:
            self.exemptions.append(
                Exemption(
                    id=f"allow:{path.name}",
                    kind="phrase",
                    phrases=tuple(normalize_term(p) for p in allow),
                    origin=f"{name}:{_line_of(text, 'allow')}",
                )
            )

    def _categories(self, name: str, text: str, table: Any) -> None:
        if not isinstance(table, dict):
            raise LexiconError(name, _line_of(text, "category"), "category must be a table")
        for cid, entry in table.items():
            line = _line_of(text, f'"{cid}"')
            if not isinstance(entry, dict):
                raise LexiconError(name, line, f"category {cid!r} must be a table")
            severity = entry.get("severity")
            if severity not in SEVERITIES:
                raise LexiconError(
                    name,
                    line,
                    f"category {cid!r}: severity must be one of "
                    f"{', '.join(SEVERITIES)}, not {severity!r}",
                )
            for key in ("legal_basis", "title"):
                if not isinstance(entry.get(key), str) or not entry[key]:
                    raise LexiconError(name, line, f"category {cid!r}: {key} is required")
            context = _str_list(name, line, entry.get("context", []), f"category {cid}: context")
            by_product = _severity_by_product(name, line, entry, f"category {cid!r}")
            as_product = entry.get("as_product", {})
            if not isinstance(as_product, dict) or not all(
                p in PRODUCT_CATEGORIES and isinstance(c, str) for p, c in as_product.items()
            ):
                raise LexiconError(
                    name,
                    line,
                    f"category {cid!r}: as_product must map product categories "
                    f"({', '.join(PRODUCT_CATEGORIES)}) to category ids",
                )
            self.categories[cid] = Category(
                cid,
                entry["title"],
                entry["legal_basis"],
                severity,
                tuple(normalize_term(c) for c in context),
                by_product,
                tuple(sorted(as_product.items())),
                fallback=_flag(name, line, entry, "fallback", f"category {cid!r}"),
                implied_by=frozenset(
                    _products(name, line, entry.get("implied_by", []), f"category {cid!r}") or ()
                ),
            )

    def _rule(self, name: str, line: int, entry: dict[str, Any]) -> None:
        where = f"{name}:{line}"
        rule_id = entry.get("id")
        if not isinstance(rule_id, str) or not _RULE_ID.match(rule_id):
            raise LexiconError(
                name,
                line,
                f"rule id {rule_id!r} must look like "
                "'category.name/short-name' (lowercase, digits, - _ .)",
            )
        unknown = set(entry) - {
            "id",
            "category",
            "terms",
            "patterns",
            "severity",
            "legal_basis",
            "note",
            "products",
            "soundalike",
            "word",
            "severity_by_product",
            "parts",
            "order",
            "gap",
            "span",
            "lead",
            "needs_context",
        }
        if unknown:
            raise LexiconError(
                name, line, f"rule {rule_id}: unknown key(s) {', '.join(sorted(unknown))}"
            )
        category = entry.get("category")
        if category not in self.categories:
            raise LexiconError(name, line, f"rule {rule_id}: unknown category {category!r}")
        if not rule_id.startswith(category + "/"):
            raise LexiconError(
                name, line, f"rule {rule_id}: id must start with its category '{category}/'"
            )
        if rule_id in self.rules and self.rules[rule_id].origin.startswith(name + ":"):
            raise LexiconError(
                name, line, f"duplicate rule id {rule_id!r} (first at {self.rules[rule_id].origin})"
            )
        terms = _str_list(name, line, entry.get("terms", []), f"rule {rule_id}: terms")
        for term in terms:
            if not normalize_term(term):
                raise LexiconError(
                    name,
                    line,
                    f"rule {rule_id}: term {term!r} is empty once "
                    "normalised (only spaces or punctuation)",
                )
        patterns = []
        for source in _str_list(name, line, entry.get("patterns", []), f"rule {rule_id}: patterns"):
            try:
                patterns.append(re.compile(source))
            except re.error as exc:
                raise LexiconError(
                    name, line, f"rule {rule_id}: invalid pattern {source!r}: {exc}"
                ) from exc
        word = _word_rule(name, line, entry.get("word"), rule_id)
        combination = self._combination(name, line, entry, rule_id)
        if not terms and not patterns and word is None and combination is None:
            raise LexiconError(name, line, f"rule {rule_id}: needs terms, patterns, word or parts")
        cat = self.categories[category]
        severity = entry.get("severity", cat.severity)
        if severity not in SEVERITIES:
            raise LexiconError(
                name,
                line,
                f"rule {rule_id}: severity must be one of "
                f"{', '.join(SEVERITIES)}, not {severity!r}",
            )
        soundalike = entry.get("soundalike", "context")
        if soundalike not in SOUNDALIKE_MODES:
            raise LexiconError(
                name,
                line,
                f"rule {rule_id}: soundalike must be one of "
                f"{', '.join(SOUNDALIKE_MODES)}, not {soundalike!r}",
            )
        self.defined.add(rule_id)
        self.rules[rule_id] = Rule(
            rule_id,
            category,
            severity,
            entry.get("legal_basis", cat.legal_basis),
            tuple(terms),
            tuple(patterns),
            where,
            products=_products(name, line, entry.get("products"), f"rule {rule_id}"),
            soundalike=soundalike,
            word=word,
            severity_by_product=_severity_by_product(name, line, entry, f"rule {rule_id}")
            or cat.severity_by_product,
            combination=combination,
            needs_context=_flag(name, line, entry, "needs_context", f"rule {rule_id}"),
        )

    def _class(self, name: str, line: int, entry: dict[str, Any]) -> None:
        class_id = entry.get("id")
        if not isinstance(class_id, str) or not _CLASS_ID.match(class_id):
            raise LexiconError(
                name, line, f"class id {class_id!r} must be lowercase letters, digits and _"
            )
        unknown = set(entry) - {"id", "terms", "patterns", "note"}
        if unknown:
            raise LexiconError(
                name, line, f"class {class_id}: unknown key(s) {', '.join(sorted(unknown))}"
            )
        terms = _str_list(name, line, entry.get("terms", []), f"class {class_id}: terms")
        normalised = []
        for term in terms:
            key = normalize_term(term)
            if not key:
                raise LexiconError(
                    name, line, f"class {class_id}: term {term!r} is empty once normalised"
                )
            normalised.append(key)
        patterns = []
        for source in _str_list(
            name, line, entry.get("patterns", []), f"class {class_id}: patterns"
        ):
            try:
                patterns.append(re.compile(source))
            except re.error as exc:
                raise LexiconError(
                    name, line, f"class {class_id}: invalid pattern {source!r}: {exc}"
                ) from exc
        if not normalised and not patterns:
            raise LexiconError(name, line, f"class {class_id}: needs terms or patterns")
        earlier = self.classes.get(class_id)
        if earlier is not None:  # a later file adds words to the class
            normalised = [*earlier.terms, *normalised]
            patterns = [*earlier.patterns, *patterns]
        self.classes[class_id] = WordClass(
            class_id,
            tuple(dict.fromkeys(normalised)),
            tuple(patterns),
            earlier.origin if earlier else f"{name}:{line}",
        )

    def _combination(
        self, name: str, line: int, entry: dict[str, Any], rule_id: str
    ) -> Combination | None:
        raw = entry.get("parts")
        if raw is None:
            for key in ("order", "gap", "span", "lead"):
                if key in entry:
                    raise LexiconError(name, line, f"rule {rule_id}: {key} needs parts")
            return None
        what = f"rule {rule_id}: parts"
        if not isinstance(raw, list) or len(raw) < 2:
            raise LexiconError(name, line, f"{what} must list two or more parts")
        parts: list[Part] = []
        for item in raw:
            if not isinstance(item, dict) or not {"name", "class"} <= set(item) <= PART_KEYS:
                raise LexiconError(
                    name,
                    line,
                    f'{what}: each part is {{ name = "...", class = "..." }}, with gap = N '
                    "if it may be further from the part before than the rule's gap",
                )
            part_gap = item.get("gap")
            if part_gap is not None and (
                not isinstance(part_gap, int) or isinstance(part_gap, bool) or part_gap < 0
            ):
                raise LexiconError(name, line, f"{what}: a part's gap must be a whole number >= 0")
            if part_gap is not None and not parts:
                raise LexiconError(name, line, f"{what}: the first part has no part before it")
            parts.append(Part(str(item["name"]), str(item["class"]), part_gap))
        # Classes may be defined in any file: checked once every file is read (build).
        self.class_refs.append((name, line, rule_id, tuple(parts)))
        order = entry.get("order", "given")
        if order not in PART_ORDERS or (order == "any" and len(parts) != 2):
            raise LexiconError(
                name, line, f"rule {rule_id}: order is 'given', or 'any' for two parts"
            )
        if order == "any" and any(p.gap is not None for p in parts):
            raise LexiconError(
                name, line, f"rule {rule_id}: parts in any order take the rule's gap"
            )
        gap = entry.get("gap", DEFAULT_GAP)
        if not isinstance(gap, int) or gap < 0:
            raise LexiconError(name, line, f"rule {rule_id}: gap must be a whole number >= 0")
        span = entry.get("span", "clause")
        if span not in SPANS:
            raise LexiconError(
                name, line, f"rule {rule_id}: span must be one of {', '.join(SPANS)}"
            )
        names = [p.name for p in parts]
        lead = entry.get("lead", names[0])
        if lead not in names:
            raise LexiconError(
                name, line, f"rule {rule_id}: lead {lead!r} is not one of its parts ({names})"
            )
        return Combination(tuple(parts), order, gap, span, names.index(lead))

    def _exemption(self, name: str, line: int, entry: dict[str, Any]) -> None:
        ex_id = entry.get("id")
        if not isinstance(ex_id, str) or not ex_id:
            raise LexiconError(name, line, "exemption needs an id")
        kind = entry.get("kind")
        if kind not in EXEMPTION_KINDS:
            raise LexiconError(
                name,
                line,
                f"exemption {ex_id}: kind must be one of "
                f"{', '.join(EXEMPTION_KINDS)}, not {kind!r}",
            )
        categories = entry.get("categories")
        if categories is not None:
            categories = _str_list(name, line, categories, f"exemption {ex_id}: categories")
            for c in categories:
                if c not in self.categories:
                    raise LexiconError(name, line, f"exemption {ex_id}: unknown category {c!r}")
        terms = entry.get("terms")
        if terms is not None:
            terms = _str_list(name, line, terms, f"exemption {ex_id}: terms")
        phrases: list[str] = []
        pattern = None
        if kind == "phrase":
            phrases = _str_list(name, line, entry.get("phrases", []), f"exemption {ex_id}: phrases")
            if not phrases:
                raise LexiconError(
                    name, line, f"exemption {ex_id}: a phrase exemption needs phrases"
                )
        else:
            source = entry.get("pattern")
            if not isinstance(source, str) or not source:
                raise LexiconError(name, line, f"exemption {ex_id}: kind {kind} needs a pattern")
            try:
                pattern = re.compile(source)
            except re.error as exc:
                raise LexiconError(
                    name, line, f"exemption {ex_id}: invalid pattern {source!r}: {exc}"
                ) from exc
        products = _products(name, line, entry.get("products"), f"exemption {ex_id}")
        window = entry.get("window", 12)
        if not isinstance(window, int) or window <= 0:
            raise LexiconError(name, line, f"exemption {ex_id}: window must be a positive integer")
        span = entry.get("span", "clause")
        if span not in SPANS:
            raise LexiconError(
                name, line, f"exemption {ex_id}: span must be one of {', '.join(SPANS)}"
            )
        rules = entry.get("rules")
        if rules is not None:
            rules = _str_list(name, line, rules, f"exemption {ex_id}: rules")
            self.rule_refs.append((name, line, ex_id, rules))
        self.exemptions.append(
            Exemption(
                id=ex_id,
                kind=kind,
                phrases=tuple(normalize_term(p) for p in phrases),
                pattern=pattern,
                categories=frozenset(categories) if categories is not None else None,
                terms=frozenset(normalize_term(t) for t in terms) if terms is not None else None,
                window=window,
                origin=f"{name}:{line}",
                products=products,
                span=span,
                rules=frozenset(rules) if rules is not None else None,
            )
        )

    def build(self) -> Lexicon:
        learned = self._learned(builtin_lexicon_dir() / LEARNED_FILE) if self.want_learned else None
        for name, line, ex_id, rule_ids in self.rule_refs:
            for rule_id in rule_ids:
                if rule_id not in self.defined:
                    raise LexiconError(name, line, f"exemption {ex_id}: no rule {rule_id!r}")
        for name, line, rule_id, parts in self.class_refs:
            for part in parts:
                if part.word_class not in self.classes:
                    known = ", ".join(sorted(self.classes)) or "none"
                    raise LexiconError(
                        name,
                        line,
                        f"rule {rule_id}: parts: unknown class {part.word_class!r} "
                        f"(known: {known})",
                    )
            rule = self.rules.get(rule_id)
            lead = parts[rule.combination.lead] if rule and rule.combination else parts[0]
            if not any(len(t) > 1 for t in self.classes[lead.word_class].terms):
                raise LexiconError(
                    name,
                    line,
                    f"rule {rule_id}: parts: the lead part ({lead.name}) needs a class with "
                    "words of two or more characters",
                )
        for category in self.categories.values():
            for product, target in category.as_product:
                if target not in self.categories:
                    raise LexiconError(
                        self.files[0] if self.files else "lexicons/",
                        None,
                        f"category {category.id!r}: as_product {product} = {target!r} is not a "
                        "category",
                    )
        return Lexicon(
            dict(self.categories),
            tuple(self.rules.values()),
            tuple(self.exemptions),
            tuple(self.files),
            self.digest.hexdigest()[:16],
            dict(self.classes),
            learned,
        )


def _products(name: str, line: int | None, value: Any, what: str) -> frozenset[str] | None:
    if value is None:
        return None
    products = _str_list(name, line, value, f"{what}: products")
    for product in products:
        if product not in PRODUCT_CATEGORIES:
            raise LexiconError(
                name,
                line,
                f"{what}: unknown product category {product!r} "
                f"(one of {', '.join(PRODUCT_CATEGORIES)})",
            )
    return frozenset(products)


def _severity_by_product(
    name: str, line: int | None, entry: dict[str, Any], what: str
) -> tuple[tuple[str, str], ...]:
    table = entry.get("severity_by_product", {})
    if not isinstance(table, dict):
        raise LexiconError(name, line, f"{what}: severity_by_product must be a table")
    for product, severity in table.items():
        if product not in PRODUCT_CATEGORIES or severity not in SEVERITIES:
            raise LexiconError(
                name,
                line,
                f"{what}: severity_by_product has {product} = "
                f"{severity!r}; products are {', '.join(PRODUCT_CATEGORIES)}, "
                f"severities {', '.join(SEVERITIES)}",
            )
    return tuple(sorted(table.items()))


def _word_rule(name: str, line: int, value: Any, rule_id: str) -> WordRule | None:
    if value is None:
        return None
    what = f"rule {rule_id}: word"
    if not isinstance(value, dict) or set(value) - {"head", "pos", "words", "except"}:
        raise LexiconError(name, line, f"{what} must be a table with head, pos, words, except")
    head = value.get("head")
    if not isinstance(head, str) or len(head) != 1:
        raise LexiconError(name, line, f"{what}: head must be one character")
    return WordRule(
        head=head,
        pos=frozenset(_str_list(name, line, value.get("pos", []), f"{what}: pos")),
        words=frozenset(_str_list(name, line, value.get("words", []), f"{what}: words")),
        exceptions=frozenset(_str_list(name, line, value.get("except", []), f"{what}: except")),
    )


def _flag(name: str, line: int | None, entry: dict[str, Any], key: str, what: str) -> bool:
    value = entry.get(key, False)
    if not isinstance(value, bool):
        raise LexiconError(name, line, f"{what}: {key} must be true or false")
    return value


def _str_list(name: str, line: int | None, value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise LexiconError(name, line, f"{what} must be a list of non-empty strings")
    return list(value)


def load_lexicon(
    extra: Sequence[str | Path] = (), builtin: Iterable[Path] | None = None
) -> Lexicon:
    """The built-in lexicon, then each extra file in order (overrides, disables, allow-lists;
    `LEARNED_SWITCH` names the built-in file that turns the learned model on)."""
    builder = _Builder()
    files = list(builtin) if builtin is not None else builtin_files()
    for path in files:
        builder.add_file(Path(path), allow_categories=Path(path).name == CATEGORIES_FILE)
    for extra_path in extra:
        if str(extra_path) == LEARNED_SWITCH:
            extra_path = builtin_lexicon_dir() / _LEARNED_SWITCH_FILE
        builder.add_file(Path(extra_path), allow_categories=False)
    if not builder.categories:
        raise LexiconError(str(files[0]) if files else "lexicons/", None, "no categories defined")
    return builder.build()
