"""The benchmark mailbox: N distinct applications plus 30% other mail.

Applications: the six sample applications varied with dataclasses.replace so every
applicant is distinct (unit name + number, own e-mail addresses), each mail carrying
the Word form and the stamped PDF. A share of the PDFs are scans (scan=True: no text
layer, so intake OCRs them when tesseract is installed), the rest exports; 10% carry
no seal (a realistic needs-correction share). Other mail (0.3 x N, rounded):
auto-replies (Auto-Submitted), newsletters (List-Id) and questions without attachments,
one third each. INTERNALDATEs spread over 2025-06-19 09:00 .. 2025-06-23 22:00 CST,
all before the deadline. Deterministic for a given (n, scan_share, seed); cached in
bench/.cache/ because scans take ~1 s each to build.
"""
from __future__ import annotations

import dataclasses
import pickle
import random
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")
CACHE = Path(__file__).resolve().parent / ".cache"
START = datetime(2025, 6, 19, 9, 0, tzinfo=TZ)
END = datetime(2025, 6, 23, 22, 0, tzinfo=TZ)
BODY = "您好！附件为我单位科技志愿服务试点申报书（Word 版和盖章 PDF 版），请查收。"


def _renumber_email(addr: str, k: int) -> str:
    local, _, domain = addr.partition("@")
    return f"{local}.{k}@{domain}"


def variant(base, k: int):
    """Application k (1-based): base with a distinct unit name and addresses."""
    from pipeline.models import Application

    unit = base.unit_name
    new_unit = f"{unit}{k}"
    changes = {}
    for f in dataclasses.fields(Application):
        v = getattr(base, f.name)
        if isinstance(v, str) and unit and unit in v:
            changes[f.name] = v.replace(unit, new_unit)
    changes["leader"] = dataclasses.replace(base.leader, email=_renumber_email(base.leader.email, k))
    changes["contact"] = dataclasses.replace(base.contact, email=_renumber_email(base.contact.email, k))
    return dataclasses.replace(base, **changes)


def _application_mail(args) -> tuple[str, bytes]:
    k, scan, seal, when_ts = args
    from pipeline.samples.apps import sample_applications
    from pipeline.samples.forms import build_form_docx
    from pipeline.samples.mails import DOCX, PDF, mail
    from pipeline.samples.pdfs import build_form_pdf

    apps = sample_applications()
    app = variant(apps[(k - 1) % len(apps)], k)
    when = datetime.fromtimestamp(when_ts, TZ)
    atts = [
        (f"{app.unit}-科技志愿服务试点申报书.docx", build_form_docx(app), DOCX),
        (f"{app.unit}-申报书（盖章版）.pdf", build_form_pdf(app, seal=seal, scan=scan, seed=k), PDF),
    ]
    raw = mail(f"{app.contact.name} <{app.contact.email}>", f"{app.unit}科技志愿服务试点申报材料", BODY, when, atts)
    return ("scan" if scan else "export"), raw


def _other_mail(j: int, when: datetime) -> tuple[str, bytes]:
    from pipeline.samples.mails import mail

    kind = ("auto_reply", "newsletter", "question")[j % 3]
    if kind == "auto_reply":
        return kind, mail(f"王老师{j} <teacher{j}@126.com>", "自动回复: 关于组织申报新乡市科技志愿服务试点建设的通知",
                          "您好，我正在休假，回来后尽快回复。", when, headers={"Auto-Submitted": "auto-replied"})
    if kind == "newsletter":
        return kind, mail(f"科普周刊 <news{j}@kepu-weekly.cn>", f"本周科普资讯 第{j}期", "本周科普资讯汇总……", when,
                          headers={"List-Id": f"<weekly{j}.kepu-weekly.cn>", "List-Unsubscribe": "<mailto:unsub@kepu-weekly.cn>"})
    return kind, mail(f"李主任{j} <office{j}@qq.com>", f"咨询试点申报（{j}）",
                      "请问高校科协可以申报科技志愿服务试点吗？申报书模板在哪里下载？", when)


def build(n: int, scan_share: float = 0.3, seed: int = 2025, workers: int | None = None) -> list[tuple[datetime, str, bytes]]:
    """[(internaldate, kind, raw)] in arrival order; kind: scan/export/auto_reply/newsletter/question."""
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"corpus-n{n}-s{scan_share:g}-r{seed}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    rng = random.Random(seed)
    others = round(0.3 * n)
    span = (END - START).total_seconds()
    times = sorted(START + timedelta(seconds=rng.uniform(0, span)) for _ in range(n + others))
    slots = list(range(n + others))
    rng.shuffle(slots)
    app_slots, other_slots = sorted(slots[:n]), sorted(slots[n:])
    n_scan = round(scan_share * n)
    scan_ks = set(rng.sample(range(1, n + 1), n_scan))
    none_ks = set(rng.sample(range(1, n + 1), round(0.1 * n)))
    jobs = [(k, k in scan_ks, "none" if k in none_ks else "red", times[app_slots[k - 1]].timestamp()) for k in range(1, n + 1)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        apps = list(pool.map(_application_mail, jobs, chunksize=4))
    out = [(times[app_slots[k]], kind, raw) for k, (kind, raw) in enumerate(apps)]
    out += [(times[s], *_other_mail(j, times[s])) for j, s in enumerate(other_slots)]
    out.sort(key=lambda t: t[0])
    path.write_bytes(pickle.dumps(out))
    return out


if __name__ == "__main__":
    import sys
    from collections import Counter

    c = build(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
    print(len(c), Counter(k for _, k, _ in c), sum(len(r) for _, _, r in c) / 1e6, "MB")
