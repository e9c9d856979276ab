"""Unit names as people write them: one normal form for comparing.

新乡市红旗区科学技术协会, 新乡市红旗区 科协 and 新乡市红旗区科协（盖章） are one
unit; the normal form drops spaces, folds full/half width, drops brackets and
punctuation and shortens the usual long forms.
"""
from __future__ import annotations

import re
import unicodedata

ABBREVIATIONS = (
    ("科学技术协会", "科协"),
    ("有限责任公司", "公司"),
    ("股份有限公司", "公司"),
    ("有限公司", "公司"),
)
# Traditional (and Japanese) character forms of the characters unit names, places and the
# form's labels use, to their simplified forms: a scanner's OCR layer set to 繁体 or mixed
# recognition reads 新鄉市紅旗區科學技術協會 for the same unit. Only characters whose
# simplification is unambiguous in names are listed (not 係/後/乾).
_TRADITIONAL = (
    "鄉紅區學術協會縣醫衛輝長葉華國門東陽開關廣濟寧鄭漢豐農業藥護務員隊團體聯織發實驗專職機構屬辦處廳場館園師範書圖電視訊"
    "網絡設計劃傳報導億萬與為個這們來時間點單請試願創環態資領負責繫號碼銀帳戶額費預總項達標準優質壇鎮莊灣嶺崗濱滬遼龍蘇贛魯"
    "粵瓊貴雲陝臺鋼鐵礦氣車運輸郵稅審監檢測療診婦兒紀黨組統戰勞動歷檔畫藝劇樂競賽訓練營養獸漁糧儲備貿經財產權證據興鳳龜麗"
    "陰滎湯獲鶴許潔淨齊線級類別選擇見規觀親讀課講談論語記錄遠進過還邊適連採購儀顯確認識調題樹寶貝賓飯飲樓層屆歲齡際愛綠節"
    "約轉換帶幫結續維聖塊壩橋蔣張陳劉楊趙黃吳孫馬鄧蕭馮韓錢譚羅盧蘭鄒龐賀聶閻顏"
    "郷単県営発検験総転応図広歴済斉"
)
_SIMPLIFIED = (
    "乡红区学术协会县医卫辉长叶华国门东阳开关广济宁郑汉丰农业药护务员队团体联织发实验专职机构属办处厅场馆园师范书图电视讯"
    "网络设计划传报导亿万与为个这们来时间点单请试愿创环态资领负责系号码银账户额费预总项达标准优质坛镇庄湾岭岗滨沪辽龙苏赣鲁"
    "粤琼贵云陕台钢铁矿气车运输邮税审监检测疗诊妇儿纪党组统战劳动历档画艺剧乐竞赛训练营养兽渔粮储备贸经财产权证据兴凤龟丽"
    "阴荥汤获鹤许洁净齐线级类别选择见规观亲读课讲谈论语记录远进过还边适连采购仪显确认识调题树宝贝宾饭饮楼层届岁龄际爱绿节"
    "约转换带帮结续维圣块坝桥蒋张陈刘杨赵黄吴孙马邓萧冯韩钱谭罗卢兰邹庞贺聂阎颜"
    "乡单县营发检验总转应图广历济齐"
)
SIMPLIFY = str.maketrans(_TRADITIONAL, _SIMPLIFIED)


# Bidi controls and zero-width marks: invisible, but an override (U+202E) turns the rest of a
# name around (科协‮fdp.exe reads 科协exe.pdf) wherever it is shown.
_INVISIBLE = re.compile(r"[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def visible(text: str) -> str:
    """`text` without bidi controls and zero-width marks."""
    return _INVISIBLE.sub("", text)


def simplified(text: str) -> str:
    """`text` with the traditional forms above replaced by simplified ones."""
    return text.translate(SIMPLIFY)


_DROP = re.compile(r"[\s\u3000·•、，,。.．:：;；\"'“”‘’《》<>\[\]【】()（）-]+")
_SUFFIX = re.compile(r"(盖章|公章|章)$")
# Place names written before a unit's own name (河南省, 新乡市, 红旗区): added or dropped at will.
# Each is two to six Chinese characters and a level (新乡 + 市); a prefix is one or more of them.
_PLACE_LEVELS = ("省", "自治区", "市", "地区", "州", "盟", "县", "区")
# No unit's name is longer: the fuzzy comparisons are not linear in the length, and a
# 单位名称 cell of 2,000 characters is filed by its exact name only.
MAX_COMPARED = 100
_CITY_WORDS = re.compile(r"[省市]")  # 新乡红旗区 for 新乡市红旗区; 县 and 区 name other places


def normalize_unit(name: str) -> str:
    """The comparable form of a unit name ('' for nothing usable)."""
    text = name or ""
    for _ in range(3):  # dropping characters can make a new NFKC composition
        before = text
        text = _DROP.sub("", simplified(unicodedata.normalize("NFKC", visible(text))).lower())
        text = _SUFFIX.sub("", text)
        for long, short in ABBREVIATIONS:
            text = text.replace(long, short)
        if text == before:
            break
    return text


def same_unit(a: str, b: str) -> bool:
    na, nb = normalize_unit(a), normalize_unit(b)
    return bool(na) and na == nb


def unit_in_text(name: str, text: str) -> bool:
    """Whether `text` (e.g. a PDF's text layer) names the unit."""
    needle = normalize_unit(name)
    return len(needle) >= 4 and needle in normalize_unit(text)


def nearly_same_unit(a: str, b: str) -> bool:
    """One character apart (a typo, or OCR reading 术 as 木) in names long enough to tell apart.

    Not the same unit for sure, not clearly another: the comparison says so to staff
    instead of telling the applicant the files do not belong together. Compared in
    the normal form and spelled out (a misread 科学技木协会 no longer shortens to 科协).
    """
    if same_unit(a, b):
        return False
    forms_a, forms_b = _forms(a), _forms(b)
    if max(map(len, forms_a | forms_b)) > MAX_COMPARED:
        return False
    return any(_one_edit(x, y) for x in forms_a for y in forms_b)


def _forms(name: str) -> set[str]:
    plain = _SUFFIX.sub("", _DROP.sub("", unicodedata.normalize("NFKC", name or "").lower()))
    return {normalize_unit(name), plain}


def _one_edit(a: str, b: str) -> bool:
    if min(len(a), len(b)) < 6 or abs(len(a) - len(b)) > 1 or a == b:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b)) == 1
    short, long_ = sorted((a, b), key=len)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def similar_unit(a: str, b: str, threshold: float = 0.6) -> bool:
    """Alike enough that OCR misreads could explain the difference (a few characters);
    below it, the names belong to two units."""
    from difflib import SequenceMatcher

    na, nb = normalize_unit(a), normalize_unit(b)
    if max(len(na), len(nb)) > MAX_COMPARED:
        return False
    return bool(na and nb) and SequenceMatcher(None, na, nb).ratio() >= threshold


def probably_same_unit(a: str, b: str) -> bool:
    """Two ways one unit writes its own name: the same, with or without the places
    before it (红旗区科协, 新乡市红旗区科学技术协会), or with 市/省 left out (新乡红旗区科协).

    Stricter than `similar_unit` and `nearly_same_unit`, which also pair other units
    one character apart (新乡学院 / 新乡医学院, 中心医院 / 中医院, 新乡市科协 /
    新乡县科协, 第一中学 / 第二中学): this decides where a file is filed.
    """
    if same_unit(a, b):
        return True
    na, nb = normalize_unit(a), normalize_unit(b)
    if max(len(na), len(nb)) > MAX_COMPARED:
        return False
    short, long_ = sorted((na, nb), key=len)
    if len(short) >= 4 and long_.endswith(short) and only_places(long_[: -len(short)]):
        return True
    return len(short) >= 4 and _CITY_WORDS.sub("", na) == _CITY_WORDS.sub("", nb)


def only_places(text: str) -> bool:
    """Whether `text` is one or more place names (河南省新乡市), in time linear in its length.

    The regex this replaces, (?:[一-鿿]{2,6}?(?:省|市|…))+, backtracked exponentially on
    市市…市科 (91 s for 60 characters, in C code no deadline interrupts): here each
    position where a run of place names can end is marked once, left to right.
    """
    n = len(text)
    ends = [True] + [False] * n
    for start in range(n):
        if not ends[start]:
            continue
        for stem_end in range(start + 2, min(start + 6, n) + 1):
            if not all("\u4e00" <= c <= "\u9fff" for c in text[start:stem_end]):
                break
            for level in _PLACE_LEVELS:
                if text.startswith(level, stem_end):
                    ends[stem_end + len(level)] = True
    return n > 0 and ends[n]
