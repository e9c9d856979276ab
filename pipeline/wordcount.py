"""Word's 字数 (Review → Word Count → "字数"), the figure applicants see.

The call limits sections by 字数, so we must count the way Word does, not
`len()`: every CJK character and every full-width punctuation mark counts 1,
a run of Latin letters/digits counts 1 (`2024` is one word), half-width
punctuation and whitespace count 0.
"""
from __future__ import annotations

import unicodedata

# Characters that separate words but are never counted themselves.
_INVISIBLE = {"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"}


def _kind(ch: str) -> str:
    """'space', 'asian' (counts 1 on its own), 'word' (letter/digit) or 'punct'."""
    if ch.isspace() or ch in _INVISIBLE:
        return "space"
    code = ord(ch)
    if code < 0x2000:
        # ASCII, Latin-1, Latin Extended, Greek, Cyrillic ...: Western text.
        if ch.isalnum() or unicodedata.category(ch) == "Mn":
            return "word"
        return "punct"
    # CJK ideographs, kana, hangul, full-width forms, Chinese quotes/dashes,
    # symbols: Word counts each as one East Asian character.
    return "asian"


def word_count(text: str) -> int:
    """Count `text` as Word's 字数 does (see the module docstring)."""
    count = 0
    in_token = False  # inside a run of Western (non-space, non-Asian) characters
    token_has_word = False
    for ch in text:
        kind = _kind(ch)
        if kind in ("word", "punct"):
            if not in_token:
                in_token, token_has_word = True, False
            if kind == "word":
                token_has_word = True
            continue
        if in_token and token_has_word:
            count += 1
        in_token = False
        if kind == "asian":
            count += 1
    if in_token and token_has_word:
        count += 1
    return count
