"""Form rules of the shipped rules file: each code fires exactly when it should."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipeline.checks import Context
from pipeline.forms.docx import UNREADABLE
from pipeline.models import Application, Document, Finding, Participant, Person, Submission
from pipeline.ruleset import load_rules
from pipeline.samples.apps import item, sample_applications, section

RULES = load_rules(Path(__file__).resolve().parents[2] / "rules" / "xinxiang-2025-kjzyfw.toml")
CST = timezone(timedelta(hours=8))
ON_TIME = datetime(2025, 6, 20, 10, 0, tzinfo=CST)
FORM_CODES = {
    "pilot_type_invalid", "field_missing", "text_too_long", "budget_over_limit", "budget_sum_mismatch",
    "contact_invalid", "indicators_not_quantified", "plan_below_minimum", "text_near_limit",
    "participant_without_phone", "unit_name_invalid",
}


def submission() -> Submission:
    word = Document("a" * 64, "申报书.docx", "docx", 1000, ON_TIME, "m" * 64)
    pdf = Document("b" * 64, "申报书.pdf", "pdf", 1000, ON_TIME, "m" * 64)
    return Submission("unit@163.com", "unit@163.com", word, pdf, ON_TIME, ON_TIME, ON_TIME)


def findings(app: Application | None):
    return RULES.evaluate(Context(RULES.call, submission(), app, None))


def codes(app: Application | None) -> list[str]:
    return sorted(f.code for f in findings(app))


def replace(app: Application, **changes) -> Application:
    return dataclasses.replace(app, **changes)


def with_budget(app: Application, amounts: list[str], total: str) -> Application:
    items = tuple(item(str(i), f"事项{i}", a, "测算") for i, a in enumerate(amounts, 1))
    from pipeline.amounts import parse_amount

    return replace(app, budget_items=items, budget_total_text=total, budget_total=parse_amount(total))


APPS = sample_applications()
BASE = APPS[0]


def test_every_form_code_has_a_rule():
    assert FORM_CODES <= {r.code for r in RULES.rules}


@pytest.mark.parametrize("app", APPS, ids=lambda a: a.unit_name)
def test_samples_are_clean(app):
    assert codes(app) == []


def test_no_word_form_means_no_form_findings():
    assert codes(None) == []
    assert codes(Application(problems=(UNREADABLE,))) == ["format_unreadable"]


@pytest.mark.parametrize(
    "types, fires",
    [((), True), (("县级科协试点",), False), (("县级科协试点", "高校科协试点"), True)],
)
def test_pilot_type(types, fires):
    assert codes(replace(BASE, pilot_types=types)) == (["pilot_type_invalid"] if fires else [])


def test_field_missing_names_each_field():
    app = replace(BASE, leader=replace(BASE.leader, email=""), account_bank="", address="")
    found = [f for f in findings(app) if f.code == "field_missing"]
    assert [f.location for f in found] == [
        "一、申报单位基本情况 / 试点负责人电子邮箱",
        "一、申报单位基本情况 / 单位地址",
        "七、经费支出预算表 / 乙方账户信息（开户银行）",
    ]
    assert {f.code for f in findings(app)} == {"field_missing"}


def test_blank_form_reports_missing_fields_and_the_pilot_type():
    found = codes(Application())
    assert set(found) == {"field_missing", "pilot_type_invalid"}
    assert found.count("field_missing") >= 20


@pytest.mark.parametrize(
    "field, n, expected",
    [
        ("work_basis", 1500, ["text_near_limit"]),
        ("work_basis", 1501, ["text_too_long"]),
        ("work_basis", 1424, []),
        ("work_basis", 1425, ["text_near_limit"]),
        ("indicators", 501, ["text_too_long"]),
        ("indicators", 480, ["text_near_limit"]),
    ],
)
def test_text_limits(field, n, expected):
    text = "1" + "科" * (n - 1)  # one digit keeps 五 quantified
    assert codes(replace(BASE, **{field: section(text)})) == expected


def test_plan_too_long_is_counted_in_words_not_characters():
    # 1600 ASCII digits are one Word "word": far below the limit.
    plan = BASE.plan.text + "1" * 1600
    assert codes(replace(BASE, plan=section(plan))) == []


@pytest.mark.parametrize(
    "amounts, total, expected",
    [
        (["1000", "1000"], "2000", []),
        (["3000", "1500"], "4500", ["budget_over_limit"]),
        (["2000", "2000"], "4,000.00", []),
        (["3000", "1500"], "3000", ["budget_over_limit", "budget_sum_mismatch"]),
        (["1000", "1000"], "2100", ["budget_sum_mismatch"]),
        (["1000", "1000"], "4100", ["budget_over_limit", "budget_sum_mismatch"]),
        (["0.1万元", "壹仟元"], "贰仟元整", []),
        (["1000", "约一千"], "2000", ["budget_sum_mismatch"]),  # unreadable amount named
    ],
)
def test_budget(amounts, total, expected):
    assert codes(with_budget(BASE, amounts, total)) == expected


def test_budget_over_limit_message_gives_total_and_limit():
    (f,) = [f for f in findings(with_budget(BASE, ["3000", "1500"], "4500")) if f.code == "budget_over_limit"]
    assert "4,500.00" in f.message and "4,000" in f.message and f.severity == "error"


@pytest.mark.parametrize("layout", ["category", "quantity", "requested", "two_row_header", "capital_total", "wan"])
def test_budget_tables_read_from_word_pass_the_budget_rules(layout):
    """A 合计（大写）… row or a 类别 column gave “合计未填写” and “合计 7,200.00 元，超过上限” at once."""
    from pipeline.forms.docx import read_form
    from pipeline.samples.forms import build_form_docx

    assert codes(read_form(build_form_docx(BASE, budget_layout=layout))) == []


def test_a_total_whose_capitals_and_figures_disagree_is_questioned():
    """合计（大写）叁仟元整 beside （小写）3600元: which one is meant only the applicant can say
    (a finance office rejects such a table); it was accepted on the figure alone."""
    from pipeline.forms.docx import read_form
    from pipeline.samples.forms import build_form_docx
    from test_docx_form import with_document_xml

    assert codes(read_form(build_form_docx(BASE, budget_layout="capital_total"))) == []
    data = build_form_docx(BASE, budget_layout="capital_total")
    wrong = with_document_xml(data, lambda xml: xml.replace("叁仟陆佰元整", "叁仟元整"))
    got = read_form(wrong)
    assert codes(got) == ["budget_sum_mismatch"]
    (f,) = [f for f in findings(got) if f.code == "budget_sum_mismatch"]
    assert "叁仟元整" in f.message and "3,000.00" in f.message and "3,600.00" in f.message and f.severity == "error"


def test_a_budget_in_wan_yuan_over_the_limit_is_over_the_limit():
    """0.44 under 金额（万元） is 4,400 元; read as 0.44 元 it was accepted."""
    from pipeline.forms.docx import read_form
    from pipeline.samples.forms import build_form_docx

    app = with_budget(BASE, ["2000", "1000", "800", "600"], "4400")
    assert codes(read_form(build_form_docx(app, budget_layout="wan"))) == ["budget_over_limit"]


@pytest.mark.parametrize("total", ["", "3000"], ids=["no-total", "total-within-limit"])
def test_budget_over_limit_by_the_lines_says_it_is_their_sum(total):
    """With no 合计 read (or a 合计 within the limit), calling the lines' sum 合计 contradicted
    “合计未填写” in the same reply."""
    (f,) = [f for f in findings(with_budget(BASE, ["3000", "1500"], total)) if f.code == "budget_over_limit"]
    assert "各项金额之和 4,500.00 元" in f.message and "合计 4,500.00" not in f.message


@pytest.mark.parametrize(
    "changes, fires",
    [
        ({"leader": Person("王建国", "主席", "wang@163.com", "3661812")}, False),
        ({"leader": Person("王建国", "主席", "wang@163.com", "0373-3661812")}, False),
        ({"leader": Person("王建国", "主席", "wang@163.com", "(0373)3661812")}, False),
        ({"leader": Person("王建国", "主席", "wang@163.com", "13837301256")}, False),
        ({"leader": Person("王建国", "主席", "wang@163.com", "366181")}, True),
        ({"leader": Person("王建国", "主席", "wang＠163.com", "3661812")}, True),
        ({"leader": Person("王建国", "主席", "wang163.com", "3661812")}, True),
        ({"contact": Person("李晓燕", "部长", "li@163.com", "1383730125")}, True),
        ({"contact": Person("李晓燕", "部长", "li@163.com", "12837301256")}, True),
        ({"contact": Person("李晓燕", "部长", "li@163.com", "0373-3661812")}, True),  # 手机号码 must be a mobile
        ({"account_number": "6222 0012 3456 7890 123"}, False),
        ({"account_number": "1234567"}, True),
        ({"account_number": "1" * 31}, True),
        ({"account_number": "62220012345X"}, True),
    ],
)
def test_contact_invalid(changes, fires):
    assert codes(replace(BASE, **changes)) == (["contact_invalid"] if fires else [])


def test_participant_phone_checked_and_missing_phone_warned():
    bad = BASE.participants + (Participant("5", "钱七", "男", "干事", "红旗区科协", "宣传", "12345"),)
    assert codes(replace(BASE, participants=bad)) == ["contact_invalid"]
    missing = BASE.participants + (Participant("5", "钱七", "男", "干事", "红旗区科协", "宣传", ""),)
    found = findings(replace(BASE, participants=missing))
    assert [(f.code, f.severity) for f in found] == [("participant_without_phone", "warning")]
    assert "钱七" in found[0].location


@pytest.mark.parametrize(
    "text, fires",
    [
        ("组建服务队，开展活动，建设站点。", True),
        ("组建服务队1支，开展活动不少于5次。", False),
        ("组建服务队一支，开展活动不少于五次。", False),
        ("", False),  # empty: field_missing instead
    ],
)
def test_indicators_not_quantified(text, fires):
    found = codes(replace(BASE, indicators=section(text)))
    assert ("indicators_not_quantified" in found) == fires


def test_plan_below_minimum_names_each_missing_minimum():
    plan = "组建科技志愿服务队1支，队员30人，在大美志愿注册。实施重点项目1个。全年开展活动3次。"
    found = [f for f in findings(replace(BASE, plan=section(plan))) if f.code == "plan_below_minimum"]
    assert len(found) == 3  # team size, activities, station
    assert all(f.severity == "warning" for f in found)
    good = "组建科技志愿服务队1支，不少于50人，在大美志愿注册。实施重点项目1个。全年开展活动不少于5次。建设服务站点1个。"
    assert codes(replace(BASE, plan=section(good))) == []


def test_plan_without_dameizhiyuan_registration_is_warned():
    plan = "组建科技志愿服务队1支，不少于50人。实施重点项目1个。全年开展活动不少于5次。建设服务站点1个。"
    assert codes(replace(BASE, plan=section(plan))) == ["plan_below_minimum"]


def test_every_form_finding_has_a_chinese_message_and_location():
    broken = replace(
        with_budget(BASE, ["3000", "1500"], "4400"),
        pilot_types=(),
        leader=Person("", "", "bad", "1"),
        indicators=section("科" * 490),
        participants=(Participant("1", "张三"),),
    )
    found = findings(broken)
    assert {f.code for f in found} >= {
        "pilot_type_invalid", "field_missing", "budget_over_limit", "budget_sum_mismatch",
        "contact_invalid", "indicators_not_quantified", "text_near_limit", "participant_without_phone",
    }
    for f in found:
        assert f.message and f.location and "{" not in f.message


@pytest.mark.parametrize(
    "field, value, invalid",
    [
        ("leader.phone", "0373-3661812-8001", False),
        ("leader.phone", "3661812转8001", False),
        ("leader.phone", "（0373）3661812", False),
        ("leader.phone", "0373-3661812/13837312345", False),
        ("leader.phone", "12345", True),
        ("contact.phone", "138-3731-2345", False),
        ("contact.phone", "+86 13837312345", False),
        ("contact.phone", "0373-3661812", True),
        ("contact.email", "abc＠163.com", True),
        ("contact.email", "abc@163.com；def@qq.com", False),
        ("contact.email", "abc@163", True),
        ("contact.email", "kx@原阳.中国", False),  # a Chinese domain: sending to it works (QA round 11)
        ("contact.email", "kx@xn--8mr626m.xn--fiqs8s", False),  # the same, as a bounce shows it
        ("contact.email", "kx＠原阳.中国", True),
        ("contact.email", "kx@原阳。中国", True),
        ("contact.email", "kx@１６３.com", True),  # full-width digits
        ("contact.phone", "13837301256（微信同号）", False),
        ("leader.phone", "0373-2025618（办）", False),
        ("leader.phone", "0373-2025618（办）/ 1383730", True),
        ("leader.phone", "0373-2025618\n13837301256", False),
        ("leader.phone", "同上", False),  # the number above it; not worth a resend
    ],
)
def test_contacts_as_people_write_them(field, value, invalid):
    import dataclasses

    base = sample_applications()[0]
    person, attr = field.split(".")
    app = dataclasses.replace(base, **{person: dataclasses.replace(getattr(base, person), **{attr: value})})
    assert ("contact_invalid" in codes(app)) is invalid


@pytest.mark.parametrize(
    "contact, invalid",
    [
        ("zhao@163.com", False),  # the column asks for 联系方式, not a phone
        ("13837301256\nzhao@163.com", False),
        ("同上", False),
        ("0373-3661812（办）", False),
        ("zhao＠163.com", True),
        ("12345", True),
    ],
)
def test_participants_contact_column_takes_a_phone_or_an_email(contact, invalid):
    people = BASE.participants + (Participant("5", "钱七", "男", "干事", "红旗区科协", "宣传", contact),)
    found = [f for f in findings(replace(BASE, participants=people)) if f.code == "contact_invalid"]
    assert bool(found) is invalid
    if found:
        assert "\n" not in found[0].message and "联系方式" in found[0].message


def test_an_invalid_bank_account_is_quoted_masked():
    """Problem texts go into replies and every staff summary: never the whole account number."""
    found = [f for f in findings(replace(BASE, account_number="6222-0217-0000-1234-567X")) if f.code == "contact_invalid"]
    assert len(found) == 1 and "****567X" in found[0].message
    assert "0217" not in found[0].message and "6222" not in found[0].message


def test_an_unrecognised_tick_is_told_what_was_ticked_not_also_that_nothing_was():
    """The reader quotes the ticked words that are no option; "未勾选" beside it contradicted it."""
    seen = Finding("pilot_type_unrecognized", "error", "封面“试点类型”勾选的是“社会组织”，不是申报书列出的选项。", "封面 / 试点类型")
    assert codes(replace(BASE, pilot_types=(), problems=(seen,))) == ["pilot_type_unrecognized"]
    assert codes(replace(BASE, pilot_types=())) == ["pilot_type_invalid"]


def test_an_option_marked_only_by_formatting_is_named_not_chosen():
    """No tick, one option bold (or underlined, coloured…): the receipt must not name a type nobody
    ticked, and the correction names the option that looked chosen instead of a bare 未勾选."""
    [finding] = findings(replace(BASE, pilot_types=(), pilot_type_marked="高校科协试点"))
    assert finding.code == "pilot_type_invalid" and finding.severity == "error" and not finding.staff_only
    assert "“高校科协试点”的格式" in finding.message and "打“√”" in finding.message
    [plain] = findings(replace(BASE, pilot_types=()))
    assert "未勾选。请在" in plain.message and "格式" not in plain.message


SPAM_UNIT = "恭喜您获得科普补贴5000元，请加微信kf8888或访问 http://xx-butie.cn 领取"


@pytest.mark.parametrize(
    "name, why",
    [
        (SPAM_UNIT, "网址"),
        ("补贴名额有限请登录 xx-butie.cn 填写", "网址"),
        ("详情见WWW.XX-BUTIE.CN", "网址"),
        ("新乡市科协 https：//t.cn/abc", "网址"),  # a full-width colon, as an IME writes it
        ("领补贴请加微信 kf8888", "微信"),
        ("领补贴请加QQ：123456", "微信"),
        ("补贴咨询 0373-3661812", "微信"),
        ("补贴咨询１３８３７３０１２５６", "微信"),  # full-width digits
        ("新乡市" + "科普志愿服务活动宣传周" * 5, "超过 50 个字"),
        ("恭喜获得补贴请加微信kf8888联系本协会", "微信"),  # an account given, whatever the ending
    ],
)
def test_a_unit_name_that_is_no_name_needs_correction_without_being_repeated(name, why):
    """QA round 10: an advert in the 单位名称 box was accepted and echoed by the receipt."""
    got = [f for f in findings(replace(BASE, unit_name=name, cover_unit=name)) if f.code == "unit_name_invalid"]
    assert [f.location for f in got] == ["封面 / 申报单位", "一、申报单位基本情况 / 单位名称"]
    for f in got:
        assert f.severity == "error" and not f.staff_only and why in f.message and "单位全称" in f.message
        assert name not in f.message and "kf8888" not in f.message and "xx-butie" not in f.message.lower()


@pytest.mark.parametrize(
    "name",
    ["新乡市红旗区科学技术协会", "河南师范大学科学技术协会", "新乡市农学会", "中国农业科学院农田灌溉研究所", "新乡市科普作家协会（筹）",
     "新乡市AI学会", "新乡市第22中学", "中国人民解放军第371中心医院", "新乡市华兴智能科技有限公司", "Xinxiang Tech.Co.,Ltd",
     "新乡市Q&A科普志愿服务队", "新乡市qqq科技有限公司", "河南省新乡市红旗区向阳街道办事处社区科普志愿服务协会（筹）",
     # QA round 11: a chat app's name is no account, a phone after the name no advert, four units one cover.
     "新乡市qq星幼儿园", "新乡市微信公众号运营协会", "新乡市红旗区科学技术协会 电话13837301256",
     "新乡市红旗区科学技术协会、新乡市卫滨区科学技术协会、新乡市牧野区科学技术协会、新乡市凤泉区科学技术协会"],
)
def test_real_unit_names_pass_the_unit_name_check(name):
    assert "unit_name_invalid" not in codes(replace(BASE, unit_name=name, cover_unit=name))
