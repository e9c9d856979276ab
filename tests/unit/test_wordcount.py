"""Word's 字数: the figure applicants see when they check the section limits."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.wordcount import word_count


@pytest.mark.parametrize(
    "text, expected",
    [
        ("科普活动覆盖2024年全县12个乡镇。", 15),  # FIELD-NOTES example
        ("", 0),
        ("   \n\t\u3000", 0),
        ("2024", 1),
        ("hello world", 2),
        ("hello, world!", 2),  # half-width punctuation counts 0
        (", . ; ( )", 0),
        ("“科普”，（志愿）。", 10),  # full-width punctuation counts 1 each
        ("ＡＢＣ", 3),  # full-width letters are East Asian characters
        ("开展AI科普", 5),
        ("3.5万人", 3),
    ],
)
def test_examples(text, expected):
    assert word_count(text) == expected


cjk = st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), max_size=30)
latin_word = st.from_regex(r"[A-Za-z0-9]{1,8}", fullmatch=True)
mixed = st.text(
    alphabet=st.sampled_from(list("科普志愿服务，。“”abcXYZ0129 ,.;:-\n\t")),
    max_size=40,
)


@given(cjk)
def test_each_cjk_character_counts_one(text):
    assert word_count(text) == len(text)


@given(st.lists(latin_word, max_size=10))
def test_each_space_separated_latin_run_counts_one(words):
    assert word_count(" ".join(words)) == len(words)


@given(mixed, mixed)
def test_additive_across_a_space(a, b):
    assert word_count(a + " " + b) == word_count(a) + word_count(b)


@given(mixed, mixed)
def test_appending_never_lowers_the_count_by_more_than_a_merge(a, b):
    combined = word_count(a + b)
    assert combined >= word_count(a)
    assert combined >= word_count(b)
    assert combined >= word_count(a) + word_count(b) - 1


@given(mixed)
def test_whitespace_does_not_count(text):
    assert word_count(text) == word_count(text + "  \n ") == word_count(" \t" + text)
