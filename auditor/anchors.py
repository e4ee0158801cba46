"""Literals that every match of a regular expression must hold: cheap anchors for lexicon patterns.

A pattern such as (原价|专柜价)...(现价|只要) cannot match a line holding neither 原价 nor 专柜价.
The scanner finds such literals with its Aho-Corasick automaton (one pass for every term and every
pattern) and runs each pattern only on the lines that hold one of its literals, instead of running
thirty regular expressions over a year of transcripts. The literals are read from the parsed
pattern, so lexicon authors keep writing plain regular expressions; a pattern with no usable
literal is simply run over the whole text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

# Cross products of alternatives larger than this are not worth enumerating.
MAX_LITERALS = 64
# A one-character anchor would hit nearly every line.
MIN_ANCHOR_LENGTH = 2

_ZERO_WIDTH = {sre.AT, sre.ASSERT, sre.ASSERT_NOT}
_REPEATS = {sre.MAX_REPEAT, sre.MIN_REPEAT, getattr(sre, "POSSESSIVE_REPEAT", sre.MAX_REPEAT)}


@dataclass(frozen=True)
class _Node:
    exact: frozenset[str] | None = None  # every string the node can match, when few
    needed: frozenset[str] | None = None  # every match holds one of these


def required_literals(pattern: re.Pattern[str]) -> frozenset[str] | None:
    """A set of literals one of which every match of `pattern` holds; None when there is none
    worth using (a literal shorter than MIN_ANCHOR_LENGTH, or a pattern that ignores case)."""
    tree = _parsed(pattern)
    if tree is None:
        return None
    node = _sequence(tree)
    best = node.needed if node.needed is not None else node.exact
    if best is None or not _usable(best) or _shortest(best) < MIN_ANCHOR_LENGTH:
        return None
    return best


def _parsed(pattern: re.Pattern[str]) -> list[tuple[Any, Any]] | None:
    """The parsed pattern's top-level items; None for a pattern that ignores case (a literal could
    be written otherwise) or that the parser of this Python cannot read."""
    if pattern.flags & re.IGNORECASE:
        return None
    try:
        return list(sre_parse.parse(pattern.pattern, pattern.flags))
    except (re.error, TypeError, ValueError, RecursionError):
        return None


def _usable(literals: frozenset[str] | None) -> bool:
    return bool(literals) and "" not in literals  # type: ignore[operator]


def _shortest(literals: Iterable[str]) -> int:
    return min(len(s) for s in literals)


def _better(a: frozenset[str] | None, b: frozenset[str]) -> bool:
    """Whether `b` makes a more selective anchor than `a`: longer literals, then fewer."""
    if a is None:
        return True
    return (_shortest(b), -len(b)) > (_shortest(a), -len(a))


def _product(a: frozenset[str], b: frozenset[str]) -> frozenset[str] | None:
    if len(a) * len(b) > MAX_LITERALS:
        return None
    return frozenset(x + y for x in a for y in b)


def _sequence(items: Sequence[tuple[Any, Any]]) -> _Node:
    best: frozenset[str] | None = None
    run: frozenset[str] = frozenset({""})  # literals of the exact elements read so far
    whole: frozenset[str] | None = frozenset({""})  # the exact set of the sequence, if any

    def close(literals: frozenset[str]) -> None:
        nonlocal best
        if _usable(literals) and _better(best, literals):
            best = literals

    for op, av in items:
        node = _node(op, av)
        if node.exact is not None:
            joined = _product(run, node.exact)
            if joined is None:  # too many combinations: what we have is one candidate
                close(run)
                joined = node.exact
            run = joined
            whole = _product(whole, node.exact) if whole is not None else None
        else:
            close(run)
            run = frozenset({""})
            whole = None
            if node.needed is not None:
                close(node.needed)
    close(run)
    return _Node(exact=whole, needed=best)


def _node(op: Any, av: Any) -> _Node:
    if op is sre.LITERAL:
        return _Node(exact=frozenset({chr(av)}))
    if op in _ZERO_WIDTH:
        return _Node(exact=frozenset({""}))
    if op is sre.IN:
        if all(kind is sre.LITERAL for kind, _ in av):
            return _Node(exact=frozenset(chr(value) for _, value in av))
        return _Node()
    if op is sre.SUBPATTERN:
        _, add_flags, _, body = av
        if add_flags & sre.SRE_FLAG_IGNORECASE:
            return _Node()
        return _sequence(list(body))
    if op is getattr(sre, "ATOMIC_GROUP", None):
        return _sequence(list(av))
    if op is sre.BRANCH:
        return _branch([_sequence(list(alternative)) for alternative in av[1]])
    if op in _REPEATS:
        low, high, body = av
        inner = _sequence(list(body))
        if low == high == 1:
            return inner
        if low == 0 and high == 1 and inner.exact is not None:
            return _Node(exact=inner.exact | {""})
        if low >= 1:
            return _Node(needed=inner.needed if inner.needed is not None else inner.exact)
        return _Node()
    return _Node()  # any character, a class, a back reference: no literal known


def _branch(alternatives: list[_Node]) -> _Node:
    exact: frozenset[str] | None = None
    if all(a.exact is not None for a in alternatives):
        union = frozenset().union(*(a.exact for a in alternatives if a.exact is not None))
        exact = union if len(union) <= MAX_LITERALS else None
    needed: frozenset[str] | None = frozenset()
    for alternative in alternatives:
        literals = alternative.needed if alternative.needed is not None else alternative.exact
        if not _usable(literals) or needed is None:
            needed = None
            break
        assert literals is not None
        needed = needed | literals
    return _Node(exact=exact, needed=needed if needed and len(needed) <= MAX_LITERALS else None)


def first_characters(pattern: re.Pattern[str]) -> re.Pattern[str] | None:
    """A character class that matches the first character of every non-empty match of
    `pattern`: a window holding none of them holds no match, which one cheap search tells. None
    when it cannot be known (a pattern that can match anything first, or nothing at all)."""
    tree = _parsed(pattern)
    if tree is None:
        return None
    first = _first_of_sequence(tree)
    if first is None or first[1]:  # unknown, or the pattern may match nothing at all
        return None
    return re.compile("[" + "".join(sorted(first[0])) + "]")


# What can start a match: pieces of a character class, and whether the element may match empty.
_First = tuple[frozenset[str], bool]


def _first_of_sequence(items: Sequence[tuple[Any, Any]]) -> _First | None:
    pieces: set[str] = set()
    for op, av in items:
        node = _first_of_node(op, av)
        if node is None:
            return None
        pieces |= node[0]
        if not node[1]:
            return frozenset(pieces), False
    return frozenset(pieces), True


def _first_of_node(op: Any, av: Any) -> _First | None:
    if op is sre.LITERAL:
        return frozenset({re.escape(chr(av))}), False
    if op in _ZERO_WIDTH:
        return frozenset(), True  # looks around or anchors: the next element starts the match
    if op is sre.IN:
        pieces: set[str] = set()
        for kind, value in av:
            if kind is sre.LITERAL:
                pieces.add(re.escape(chr(value)))
            elif kind is sre.RANGE:
                pieces.add(f"{re.escape(chr(value[0]))}-{re.escape(chr(value[1]))}")
            elif kind is sre.CATEGORY and value is sre.CATEGORY_DIGIT:
                pieces.add(r"\d")
            else:  # negated classes and other categories: anything may start
                return None
        return frozenset(pieces), False
    if op is sre.SUBPATTERN:
        _, add_flags, _, body = av
        if add_flags & sre.SRE_FLAG_IGNORECASE:
            return None
        return _first_of_sequence(list(body))
    if op is getattr(sre, "ATOMIC_GROUP", None):
        return _first_of_sequence(list(av))
    if op is sre.BRANCH:
        union: set[str] = set()
        empty = False
        for alternative in av[1]:
            first = _first_of_sequence(list(alternative))
            if first is None:
                return None
            union |= first[0]
            empty = empty or first[1]
        return frozenset(union), empty
    if op in _REPEATS:
        low, _, body = av
        inner = _first_of_sequence(list(body))
        if inner is None:
            return None
        return inner[0], inner[1] or low == 0
    return None  # any character, a back reference: anything may start
