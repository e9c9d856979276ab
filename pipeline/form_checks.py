"""Checks on what the Word form says (sections 一–八). Registered like checks.py.

Every number, label and keyword lives in the rules file's params, so next
year's call is a new rules file, not new code. A check yields nothing when
there is no readable Word form: that is reported by its own rule.
"""
from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from typing import Any, Iterable

from .amounts import parse_amount, parse_chinese_int
from .checks import REQUIRED, Context, Hit, check, fmt_money
from .models import Application, Section

RESEND = "重新发送 Word 版和盖章 PDF 版"


def _app(ctx: Context) -> Application | None:
    app = ctx.application
    if app is None or any(p.code == "format_unreadable" for p in app.problems):
        return None
    return app


def _get(app: Application, path: str) -> Any:
    """A field by dotted path (`leader.email`); a bad path is a rules bug and raises."""
    value: Any = app
    for part in path.split("."):
        if not hasattr(value, part):
            raise ValueError(f"unknown field {path!r}")
        value = getattr(value, part)
    return value


def _filled(value: Any) -> bool:
    if isinstance(value, Section):
        return bool(value.text.strip())
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, (tuple, list)):
        return len(value) > 0
    return bool(value)


def _where(spec: dict[str, Any]) -> str:
    return f"{spec['section']} / {spec['label']}" if spec.get("label") else spec["section"]


def _place(spec: dict[str, Any]) -> str:
    """The field as a sentence names it: 一、申报单位基本情况中的“单位地址”."""
    return f"{spec['section']}中的“{spec['label']}”" if spec.get("label") else spec["section"]


def _contact_cell(section: str, n: int, name: str) -> tuple[str, str]:
    """A participant's 联系方式 cell: (location, as staff lists read it; place, as a sentence names it)."""
    who = f"（{name}）" if name else ""
    return f"{section} / 第 {n} 行{who}联系方式", f"{section}第 {n} 行{who}的“联系方式”"


def _money(value: Decimal) -> str:
    return fmt_money(value)


def _limit_text(value: Any) -> str:
    d = Decimal(str(value))
    return f"{d:,.0f}" if d == d.to_integral_value() else f"{d:,.2f}"


# -- errors ----------------------------------------------------------------------


@check(
    "pilot_type",
    messages={
        "none": "封面“试点类型”未勾选。请在{choices}中勾选一项后" + RESEND + "。",
        "many": "封面“试点类型”勾选了 {count} 项（{checked}），只能勾选一项。请只保留一项后" + RESEND + "。",
        "marked": "封面“试点类型”未勾选；其中“{marked}”的格式（加粗、下划线、颜色或底纹等）与其他三项不同。"
                  "如贵单位申报的是“{marked}”，请在它前面的“□”中打“√”（如不是，请勾选实际申报的类型），然后" + RESEND + "。",
    },
    location=(str, "封面 / 试点类型"),
)
def _pilot_type(ctx: Context, params: dict[str, Any]) -> Iterable[Hit]:
    """Exactly one of the four pilot types must be checked."""
    from .models import PILOT_TYPES

    app = _app(ctx)
    if app is None:
        return
    checked = app.pilot_types
    if len(checked) == 1:
        return
    if not checked and any(f.code == "pilot_type_unrecognized" for f in app.problems):
        return  # the reader's own finding says what was ticked; "未勾选" beside it would contradict it
    values = {"choices": "、".join(PILOT_TYPES), "count": len(checked), "checked": "、".join(checked),
              "marked": app.pilot_type_marked}
    yield Hit(params["location"], values, "many" if checked else "marked" if app.pilot_type_marked else "none")


@check(
    "required_fields",
    messages="{place}未填写。请补充填写后" + RESEND + "。",
    fields=(list, REQUIRED),
)
def _required_fields(ctx: Context, params: dict[str, Any]) -> Iterable[Hit]:
    """One finding per empty required field; fields are {path, section, label} tables."""
    app = _app(ctx)
    if app is None:
        return
    for spec in params["fields"]:
        if not _filled(_get(app, spec["path"])):
            yield Hit(_where(spec), {"location": _where(spec), "place": _place(spec)})


@check(
    "section_length",
    messages={
        "over": "{section}共 {chars} 字（按 Word“字数统计”），超过 {limit} 字的限制。请精简到 {limit} 字以内后" + RESEND + "。",
        "near": "{section}共 {chars} 字，接近 {limit} 字的上限（Word 与 WPS 统计略有差异）。建议适当精简，避免超出限制。",
    },
    sections=(list, REQUIRED),
    near=(float, 0.0),
)
def _section_length(ctx: Context, params: dict[str, Any]) -> Iterable[Hit]:
    """Over the limit (near = 0), or within `near` (a fraction) below it.

    sections: [{path, section, limit}]; the count is Word's 字数 of the
    applicant's text, guidance removed.
    """
    app = _app(ctx)
    if app is None:
        return
    near = params["near"]
    for spec in params["sections"]:
        chars = _get(app, spec["path"]).chars
        limit = int(spec["limit"])
        values = {"section": spec["section"], "chars": chars, "limit": limit}
        if near <= 0:
            if chars > limit:
                yield Hit(spec["section"], values, "over")
        elif limit * (1 - near) <= chars <= limit:
            yield Hit(spec["section"], values, "near")


@check(
    "budget_limit",
    messages={
        "": "{section}：合计 {total} 元，超过上限 {limit} 元，请调整后" + RESEND + "。",
        "sum": "{section}：各项金额之和 {total} 元，超过上限 {limit} 元，请调整后" + RESEND + "。",
    },
    limit=((int, float), REQUIRED),
    section=(str, "七、经费支出预算表"),
)
def _budget_limit(ctx: Context, params: dict[str, Any]) -> Iterable[Hit]:
    """The stated 合计, or else the sum of the lines, over the cap.

    The message names what was over: the 合计 as written, or the sum of the
    lines when no 合计 was read or the lines add up to more. Calling a sum
    "合计" beside "合计未填写" contradicted the reply.
    """
    app = _app(ctx)
    if app is None:
        return
    limit = Decimal(str(params["limit"]))
    amounts = [i.amount for i in app.budget_items if i.amount is not None]
    section = params["section"]
    where = f"{section} / 合计"
    if app.budget_total is not None and app.budget_total > limit:
        yield Hit(where, {"section": section, "total": _money(app.budget_total), "limit": _limit_text(limit)})
    elif amounts and sum(amounts, Decimal(0)) > limit:
        total = sum(amounts, Decimal(0))
        yield Hit(where, {"section": section, "total": _money(total), "limit": _limit_text(limit)}, "sum")


@check(
    "budget_sum",
    messages={
        "mismatch": "{section}：各项金额相加为 {sum} 元，与填写的合计 {total} 元不一致。请核对金额和合计后" + RESEND + "。",
        "amount": "{section}第 {row} 行{item}的金额“{text}”无法识别为数字。请填写阿拉伯数字金额（如 1200 或 1,200.00）后" + RESEND + "。",
        "total": "{section}：合计“{text}”无法识别为数字。请填写阿拉伯数字金额（如 3,600.00）后" + RESEND + "。",
        "capital": "{section}：合计大写“{capital}”（即 {capital_value} 元）与小写 {total} 元不一致。请核对大写和小写金额后" + RESEND + "。",
    },
    section=(str, "七、经费支出预算表"),
    tolerance=((int, float), 0.005),
)
def _budget_sum(ctx: Context, params: dict[str, Any]) -> Iterable[Hit]:
    """The lines must add up to the stated 合计; unreadable amounts are named."""
    app = _app(ctx)
    if app is None:
        return
    section = params["section"]
    unreadable = False
    for n, it in enumerate(app.budget_items, 1):
        if it.amount_text.strip() and it.amount is None:
            unreadable = True
            yield Hit(f"{section} / 第 {n} 行金额", {"section": section, "row": n, "item": f"“{it.item}”" if it.item else "", "text": it.amount_text}, "amount")
    if app.budget_total_text.strip() and app.budget_total is None:
        yield Hit(f"{section} / 合计", {"section": section, "text": app.budget_total_text}, "total")
        return
    capital = parse_amount(app.budget_total_capital) if app.budget_total_capital.strip() else None
    if capital is not None and app.budget_total is not None and abs(capital - app.budget_total) > Decimal(str(params["tolerance"])):
        # 大写 and 小写 of one 合计 disagree: which is meant only the applicant can say.
        yield Hit(f"{section} / 合计", {"section": section, "capital": app.budget_total_capital,
                                        "capital_value": _money(capital), "total": _money(app.budget_total)}, "capital")
        return
    amounts = [i.amount for i in app.budget_items if i.amount is not None]
    if unreadable or app.budget_total is None or not amounts:
        return
    total = sum(amounts, Decimal(0))
    if abs(total - app.budget_total) > Decimal(str(params["tolerance"])):
        yield Hit(f"{section} / 合计", {"section": section, "sum": _money(total), "total": _money(app.budget_total)}, "mismatch")


_KIND_HINTS = {
    "email": "电子邮箱应形如 name@163.com，使用半角字符",
    "mobile": "手机号码应为 1 开头的 11 位数字",
    "phone": "电话应为固定电话（如 0373-3661812 或 3661812）或 11 位手机号码",
    "account": "银行账号应为 {account_min}–{account_max} 位数字",
}
_KIND_HINTS["contact"] = "联系方式应为电话（如 0373-3661812 或 11 位手机号码）或电子邮箱"
CONTACT_KINDS = tuple(_KIND_HINTS)  # what `contact_format` fields may say as kind (the rules schema)
_KIND_NAMES = {"email": "电子邮箱", "mobile": "手机号码", "phone": "联系电话", "account": "银行账号", "contact": "联系方式"}
# How people annotate a number: 13837301256（微信同号）, 0373-2025618（办）. A bracket
# holding only digits is an area code, (0373)3661812, and stays.
_NOTE = re.compile(r"[（(][^（()）]*[^\d\s\-—（()）][^（()）]*[）)]")
_SAME_AS_ABOVE = re.compile(r"\s*(同上|同前|同左)\s*[。.]?\s*")
# A domain label: letters and digits of any script (kx@原阳.中国 is mail we can send, the outbox
# IDNA-encodes it), not full-width forms (１６３) nor punctuation; the top level is letters, or punycode.
_DOMAIN_LABEL = r"(?:[^\W_\uff00-\uffef]|-)+"
EMAIL_PATTERN = (rf"[A-Za-z0-9._%+\-]+@{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})*"
                 r"\.(?:xn--[A-Za-z0-9\-]+|[^\W\d_\uff00-\uffef]{2,})")


@check(
    "contact_format",
    messages="{place}填写的“{value}”不是有效的{kind}：{hint}。请核对后" + RESEND + "。",
    fields=(list, REQUIRED),
    participants=(bool, True),
    participants_section=(str, "二、主要参加人员"),
    email_pattern=(str, EMAIL_PATTERN),
    mobile_pattern=(str, r"1[3-9]\d{9}"),
    landline_pattern=(str, r"(0\d{2,3})?[2-9]\d{6,7}"),
    account_min=(int, 8),
    account_max=(int, 30),
)
def _contact_format(ctx: Context, params: dict[str, Any]) -> Iterable[Hit]:
    """E-mails, phones and the bank account must be well formed.

    fields: [{path, kind, section, label}], kind one of email/mobile/phone/account/contact
    (contact: a phone or an e-mail, as the participants table's 联系方式 column);
    empty values are left to required_fields.
    """
    app = _app(ctx)
    if app is None:
        return

    def bad(kind: str, value: str) -> bool:
        if kind == "email":
            # A full-width ＠ stays invalid: copied into a mail client it does not work.
            parts = [p for p in re.split(r"[\s/、,，;；]+|或", value) if p]
            return not parts or any(re.fullmatch(params["email_pattern"], p) is None for p in parts)
        if kind == "account":
            digits = re.sub(r"[\s\-]", "", value)
            return not (digits.isdigit() and params["account_min"] <= len(digits) <= params["account_max"])
        if kind == "contact" and "＠" in value:
            return True  # as for e-mail fields: a full-width ＠ does not work in a mail client
        value = _NOTE.sub("", unicodedata.normalize("NFKC", value))  # full-width digits and brackets
        if _SAME_AS_ABOVE.fullmatch(value):
            return False  # 同上: the row above's number; that one is checked there
        for part in re.split(r"[/、,，;；\n]|或", value):
            if kind == "contact" and "@" in part:
                if re.fullmatch(params["email_pattern"], part.strip()) is None:
                    return True
                continue
            # As written, then without an extension (0373-3661812-8001, 3661812转8001).
            candidates = [part, re.sub(r"(转|ext\.?|x|-)\s*\d{1,5}\s*$", "", part.strip(), flags=re.I)]
            numbers = [re.sub(r"^(\+86|0086)", "", re.sub(r"[\s\-—()（）]", "", c)) for c in candidates]
            if not numbers[0]:
                continue
            ok = any(re.fullmatch(params["mobile_pattern"], n) for n in numbers)
            if kind in ("phone", "contact") and not ok:
                ok = any(re.fullmatch(params["landline_pattern"], n) for n in numbers)
            if not ok:
                return True
        return False

    def hit(where: str, place: str, kind: str, value: str) -> Hit:
        hint = _KIND_HINTS[kind].format(account_min=params["account_min"], account_max=params["account_max"])
        shown = " / ".join(line.strip() for line in value.splitlines() if line.strip())  # one line in the reply
        if kind == "account":
            from .privacy import mask_account

            shown = mask_account(shown)  # the finding is also shown in staff summaries
        return Hit(where, {"location": where, "place": place, "value": shown, "kind": _KIND_NAMES[kind], "hint": hint})

    for spec in params["fields"]:
        value = _get(app, spec["path"])
        kind = spec["kind"]
        if kind not in _KIND_HINTS:
            raise ValueError(f"unknown kind {kind!r}")
        if isinstance(value, str) and value.strip() and bad(kind, value):
            yield hit(_where(spec), _place(spec), kind, value)
    if params["participants"]:
        for n, p in enumerate(app.participants, 1):
            # The column is 联系方式: a phone or an e-mail address.
            if p.phone.strip() and bad("contact", p.phone):
                yield hit(*_contact_cell(params["participants_section"], n, p.name), "contact", p.phone)


UNIT_NAME_MAX = 50  # characters; the longest real names (研究所, 学会（筹）) are well under it
_UNIT_URL = re.compile(
    r"https?:|www\.|(?<![a-z0-9-])[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:cn|com|net|org|top|xyz|vip|cc|info|site|shop|club"
    r"|online|icu|io|tv|biz|wang|ren|xin|ink|fun|link)(?![a-z0-9-])",  # not .co: "Tech.Co.,Ltd" is a company's name
    re.I,
)
# A chat account given (微信 kf8888, QQ:123456), or a phone number (7 digits or more, spaces and
# dashes between them removed). 新乡市qq星幼儿园 and …微信公众号运营协会 name no account (QA round 11).
_UNIT_CONTACT = re.compile(r"(?:微信|(?<![a-z])(?:qq|wechat|vx)(?![a-z]))\s*(?:号码?)?\s*[:：]?\s*[a-z0-9_-]{5,}|\d{7,}", re.I)
# How a unit's name ends (its organisation word), and a phone written after it on the cover.
_ORG_END = re.compile(r"(?:会|院|校|学|所|局|中心|站|馆|公司|部|委|队|厂|园|室|社|处|办|团|组|联盟|基地|集团|台)(?:[(（]筹[)）])?$")
_TRAILING_PHONE = re.compile(r"[\s,，;；]*(?:联系)?(?:电话|手机|tel|phone)?\s*[:：]?\s*[\d\s\-—()（）]{7,}$", re.I)


def has_link(text: str) -> bool:
    """Whether `text` carries a web address (http:, www., a domain such as xx-butie.cn)."""
    return bool(_UNIT_URL.search(unicodedata.normalize("NFKC", text or "")))


def unit_name_problem(name: str, max_chars: int = UNIT_NAME_MAX) -> str | None:
    """'url', 'contact' or 'long' when `name` cannot be a unit's name, else None.

    Text written into the unit's box (an advert with a link, a 微信 or QQ number, a phone
    number) would be repeated by our replies to whatever address sent it; a real name
    (新乡市AI学会, …学会（筹）) has none of these.
    """
    text = unicodedata.normalize("NFKC", name or "").strip()
    if has_link(text):
        return "url"
    # A phone after a name that ends as a unit's does (…科学技术协会 电话1383…) is no advert; nor
    # is a long name that ends so (a cover naming four units that apply together).
    core = _TRAILING_PHONE.sub("", text).strip()
    named = bool(_ORG_END.search(core))
    if _UNIT_CONTACT.search(re.sub(r"(?<=\d)[\s\-—]+(?=\d)", "", core if named else text)):
        return "contact"
    if not named and len(re.sub(r"\s+", "", text)) > max_chars:
        return "long"
    return None


@check(
    "unit_name",
    messages={
        "url": "{place}填写的内容含有网址，不是单位名称。请只填写单位全称（与公章上的名称一致）后" + RESEND + "。",
        "contact": "{place}填写的内容含有微信、QQ 或电话号码，不是单位名称。请只填写单位全称（与公章上的名称一致）后" + RESEND + "。",
        "long": "{place}填写的内容超过 {limit} 个字，不是单位名称。请只填写单位全称（与公章上的名称一致）后" + RESEND + "。",
    },
    fields=(list, REQUIRED),
    max_chars=(int, UNIT_NAME_MAX),
)
def _unit_name(ctx: Context, params: dict[str, Any]) -> Iterable[Hit]:
    """The unit's name boxes must hold a name (see `unit_name_problem`); the message never repeats it.

    fields: [{path, section, label}]; empty boxes are left to required_fields.
    """
    app = _app(ctx)
    if app is None:
        return
    for spec in params["fields"]:
        value = _get(app, spec["path"])
        if isinstance(value, str) and (why := unit_name_problem(value, params["max_chars"])):
            yield Hit(_where(spec), {"place": _place(spec), "limit": params["max_chars"]}, why)


# -- warnings --------------------------------------------------------------------

_CN_NUMBER = re.compile(r"[零一二两三四五六七八九十百千万]+\s*(个|次|场|人|名|项|支|处|家|所|期|篇|户|小时|天|队|条|本|份|册|门|村|校)")


@check(
    "quantified",
    messages="{section}中没有数字，考核指标需要可量化。请写明具体事项的数量和质量要求（如“开展活动不少于 5 次”）。",
    path=(str, "indicators"),
    section=(str, "五、考核指标"),
)
def _quantified(ctx: Context, params: dict[str, Any]) -> Iterable[Hit]:
    """Indicators must contain numbers (Arabic, or Chinese numerals with a measure word)."""
    app = _app(ctx)
    if app is None:
        return
    text = _get(app, params["path"]).text
    if not text.strip():
        return
    if re.search(r"[0-9０-９]", text) or _CN_NUMBER.search(text):
        return
    yield Hit(params["section"], {"section": params["section"]})


def _numbers_near(text: str, anchor_at: int, anchor_len: int, window: int, unit: str) -> list[int]:
    lo, hi = max(0, anchor_at - window), anchor_at + anchor_len + window
    part = text[lo:hi]
    out = []
    for m in re.finditer(rf"([0-9]+|[零一二两三四五六七八九十百千万]+)\s*(?:余|多)?\s*(?:{unit})", part):
        raw = m.group(1)
        value = int(raw) if raw.isdigit() else parse_chinese_int(raw)
        if value is not None:
            out.append(value)
    return out


@check(
    "plan_minimums",
    messages="{section}未写明“{label}”（通知要求：{requirement}）。建议在方案中明确写出，如“{example}”。",
    path=(str, "plan"),
    section=(str, "四、试点建设方案"),
    window=(int, 40),
    requirements=(list, REQUIRED),
)
def _plan_minimums(ctx: Context, params: dict[str, Any]) -> Iterable[Hit]:
    """The plan should commit to each of the call's minimums.

    requirements: [{label, requirement, example, anchors, also, unit, min}]:
    some anchor word must appear with a number ≥ min + unit within `window`
    characters, and every `also` word must appear somewhere.
    """
    app = _app(ctx)
    if app is None:
        return
    text = _get(app, params["path"]).text
    if not text.strip():
        return  # an empty plan is reported by required_fields
    for req in params["requirements"]:
        ok = all(word in text for word in req.get("also", []))
        if ok:
            ok = False
            for anchor in req["anchors"]:
                for m in re.finditer(re.escape(anchor), text):
                    numbers = _numbers_near(text, m.start(), len(anchor), params["window"], req["unit"])
                    if any(n >= int(req["min"]) for n in numbers):
                        ok = True
                        break
                if ok:
                    break
        if not ok:
            yield Hit(
                f"{params['section']} / {req['label']}",
                {"section": params["section"], "label": req["label"], "requirement": req["requirement"], "example": req["example"]},
            )


@check(
    "participant_phone",
    messages="{place}未填写。建议补充主要参加人员的联系电话，便于工作联系。",
    section=(str, "二、主要参加人员"),
)
def _participant_phone(ctx: Context, params: dict[str, Any]) -> Iterable[Hit]:
    """Participants listed without any 联系方式."""
    app = _app(ctx)
    if app is None:
        return
    for n, p in enumerate(app.participants, 1):
        if not p.phone.strip():
            where, place = _contact_cell(params["section"], n, p.name)
            yield Hit(where, {"location": where, "place": place})


@check(
    "form_recognized",
    messages="{message}",
)
def _form_recognized(ctx: Context, params: dict[str, Any]) -> Iterable[Hit]:
    """A wrong document: say so once instead of listing every empty field."""
    app = ctx.application
    for problem in app.problems if app is not None else ():
        if problem.code == "wrong_form":
            yield Hit(problem.location, {"message": problem.message})
