from hypothesis import given, strategies as st

from pipeline.units import normalize_unit, same_unit, unit_in_text


def test_variants_of_one_unit_agree():
    names = ["新乡市红旗区科学技术协会", "新乡市红旗区 科协", "新乡市红旗区科协（盖章）", "新乡市红旗区科学技术协会\u3000"]
    assert len({normalize_unit(n) for n in names}) == 1


def test_full_width_and_company_forms():
    assert same_unit("新乡市ＡＢＣ科技有限公司", "新乡市ABC科技有限责任公司")
    assert not same_unit("新乡市红旗区科协", "新乡市卫滨区科协")
    assert not same_unit("", "")


def test_unit_in_text():
    text = "申报单位：新乡市红旗区科学技术协会\n主要负责人：张三"
    assert unit_in_text("新乡市红旗区科协", text)
    assert not unit_in_text("新乡市卫滨区科协", text)
    assert not unit_in_text("科协", text)  # too short to mean anything


@given(st.text())
def test_normalize_never_raises_and_is_idempotent(s):
    assert normalize_unit(normalize_unit(s)) == normalize_unit(s)


def test_one_unit_written_with_or_without_its_place_or_with_a_typo():
    from pipeline.units import probably_same_unit

    assert probably_same_unit("红旗区科协", "新乡市红旗区科学技术协会")
    assert probably_same_unit("河南省新乡市红旗区科协", "红旗区科学技术协会")
    assert probably_same_unit("新乡红旗区科协", "新乡市红旗区科协")  # 市 left out
    assert probably_same_unit("新乡市红旗区科协", "新乡市红旗区科协（盖章）")


def test_sibling_units_are_not_one_unit():
    from pipeline.units import probably_same_unit

    assert not probably_same_unit("新乡市红旗区科协", "新乡市卫滨区科协")
    assert not probably_same_unit("新乡市第一中学", "新乡市第二中学")  # one character apart: another unit
    assert not probably_same_unit("新乡学院", "新乡医学院") and not probably_same_unit("新乡市中心医院", "新乡市中医院")
    assert not probably_same_unit("新乡市科协", "新乡县科协")
    assert not probably_same_unit("新乡医学院", "新乡医学院三全学院")
    assert not probably_same_unit("科协", "新乡市科协")  # too short to mean anything
    assert not probably_same_unit("", "")


def test_traditional_character_forms_are_the_same_unit():
    """A scanner's OCR layer set to 繁体/mixed recognition reads the unit in traditional forms:
    the applicant was told the PDF names another unit."""
    from pipeline.units import _SIMPLIFIED, _TRADITIONAL, same_unit, simplified

    assert same_unit("新鄉市紅旗區科學技術協會", "新乡市红旗区科学技术协会")
    assert same_unit("衛輝市醫學會", "卫辉市医学会")
    assert simplified("申報単位") == "申报单位"
    # The table maps each listed character once, never onto another listed one.
    assert len(_TRADITIONAL) == len(_SIMPLIFIED) == len(set(_TRADITIONAL))
    assert not set(_TRADITIONAL) & set(_SIMPLIFIED)
    # Two units stay two units.
    assert not same_unit("新鄉學院", "新乡医学院")


def _within(seconds: float, code: str) -> str:
    """Run `code` in a child (the same `pipeline` package) and return its output; a regex stuck
    in C code ignores signals, so only a killed child can fail such a test instead of hanging it."""
    import subprocess
    import sys
    from pathlib import Path

    import pipeline

    root = str(Path(pipeline.__file__).resolve().parents[1])
    try:
        done = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {root!r})\n{code}"],
                              capture_output=True, text=True, timeout=seconds)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"took more than {seconds} s") from None
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_name_of_repeated_place_words_is_compared_in_linear_time():
    """'市' * 60 + '科' + another unit's name made the place-prefix regex backtrack for 91 s
    (×1.4 per character) in C code no deadline interrupts; every poll refetched the mail and hung."""
    unit = "新乡市测试科学技术协会"
    out = _within(10, f"""
from pipeline.units import nearly_same_unit, probably_same_unit, same_unit, similar_unit
unit = {unit!r}
for n in (60, 2000):
    evil = "市" * n + "科" + unit
    print(probably_same_unit(evil, unit), probably_same_unit(unit, evil), nearly_same_unit(evil, unit),
          similar_unit(evil, unit), same_unit(evil, evil))
""")
    assert out.split() == ["False", "False", "False", "False", "True"] * 2


def test_place_prefixes_are_read_as_the_pattern_they_replace():
    """`only_places` is the old regex's fullmatch, without its backtracking: random strings
    over place words agree with the regex (short enough for it to finish)."""
    import random
    import re

    from pipeline.units import only_places, probably_same_unit

    pattern = re.compile(r"(?:[\u4e00-\u9fff]{2,6}?(?:省|自治区|市|地区|州|盟|县|区))+")
    rng = random.Random(7)
    for _ in range(20_000):
        s = "".join(rng.choice("新乡市区省自治地州盟县a") for _ in range(rng.randrange(14)))
        assert only_places(s) == bool(pattern.fullmatch(s)), s
    assert only_places("河南省新乡市红旗区") and only_places("广西壮族自治区南宁市") and not only_places("新乡市科")
    assert probably_same_unit("广西壮族自治区南宁市青秀区科协", "青秀区科学技术协会")


def test_names_too_long_to_be_a_unit_are_filed_by_their_exact_name_only():
    from pipeline.units import nearly_same_unit, probably_same_unit, same_unit, similar_unit

    long_ = "新乡市" + "红" * 100 + "科协"
    assert same_unit(long_, long_ + "（盖章）")
    assert not probably_same_unit("新乡" + long_[3:], long_)  # 市 left out: fuzzy, so not for such names
    assert not nearly_same_unit(long_, long_[:-3] + "科协")
    assert not similar_unit(long_, long_[:-1])
