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
