"""Shared pieces of the DXA report-text corpus generators (gen_dev.py, gen_heldout.py).

A corpus item is one report as it arrives in FHIR: a content type, the text (or base64 data), the resource's own
date (effectiveDateTime / issued) and the expected tuples: (score type, site, side, value, date) plus FRAX
(type 'FRAX', site 'mof' | 'hip'). `expect_unattributed` marks reports whose numbers cannot be attributed (the
pipeline must warn, never guess). Values are generated, never typed in by hand.
"""

from __future__ import annotations

import base64
import json
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).parent

# Fine sites of the extractor: (site, side) with side None | 'left' | 'right'.
CENTRAL = ["lumbar_l1_l4", "total_hip", "femoral_neck"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]


@dataclass
class Measure:
    site: str
    side: str | None
    t: float | None
    z: float | None
    bmd: float


@dataclass
class Scan:
    scan_date: date
    resource_date: date
    measures: list[Measure]
    frax: dict[str, float] = field(default_factory=dict)  # 'mof' / 'hip' -> percent


def rnd_value(rng: random.Random, lo: float, hi: float) -> float:
    return round(rng.uniform(lo, hi), 1)


def make_scan(rng: random.Random, sites: list[tuple[str, str | None]], with_z: bool = True,
              with_t: bool = True, frax: bool = False, low: bool = False) -> Scan:
    d = date(2024, 1, 1) + timedelta(days=rng.randrange(0, 900))
    res = d + timedelta(days=rng.choice([0, 0, 1, 2, 5]))
    ms = []
    for site, side in sites:
        t = rnd_value(rng, -4.2, -2.5) if low and rng.random() < 0.5 else rnd_value(rng, -3.5, 1.2)
        z = rnd_value(rng, -3.2, 1.0)
        ms.append(Measure(site, side, t if with_t else None, z if with_z else None,
                          round(rng.uniform(0.55, 1.15), 3)))
    fr = {}
    if frax:
        fr = {"mof": round(rng.uniform(4, 35), 1), "hip": round(rng.uniform(0.3, 9), 1)}
    return Scan(d, res, ms, fr)


def fmt_value(rng: random.Random, v: float, forms: list[str]) -> str:
    """A score as reports write it: ASCII or Unicode minus, 'minus 2.6', '-2.6 SD', '+0.4'."""
    form = rng.choice(forms)
    mag = f"{abs(v):.1f}"
    if v >= 0:
        return {"plus": f"+{mag}", "sd": f"{mag} SD"}.get(form, mag)
    return {
        "ascii": f"-{mag}",
        "unicode": f"\u2212{mag}",
        "words": f"minus {mag}",
        "sd": f"-{mag} SD",
        "unicode_sd": f"\u2212{mag} SD",
    }.get(form, f"-{mag}")


def fmt_date(rng: random.Random, d: date, forms: list[str]) -> str:
    form = rng.choice(forms)
    return {
        "iso": d.isoformat(),
        "us": f"{d.month:02d}/{d.day:02d}/{d.year}",
        "long": f"{MONTHS[d.month - 1]} {d.day}, {d.year}",
        "eu_long": f"{d.day} {MONTHS[d.month - 1]} {d.year}",
        "dmy_abbr": f"{d.day:02d}-{MONTHS[d.month - 1][:3]}-{d.year}",
        "dotted": f"{d.day:02d}.{d.month:02d}.{d.year}",
    }[form]


def expected(scan: Scan, text_has_date: bool, sites: set[str] | None = None) -> list[dict]:
    when = (scan.scan_date if text_has_date else scan.resource_date).isoformat()
    out = []
    for m in scan.measures:
        if sites is not None and m.site not in sites:
            continue
        for kind, v in (("T", m.t), ("Z", m.z)):
            if v is not None:
                out.append({"type": kind, "site": m.site, "side": m.side, "value": v, "date": when})
    for k, v in scan.frax.items():
        out.append({"type": "FRAX", "site": k, "side": None, "value": v, "date": when})
    return out


def casing(rng: random.Random, s: str) -> str:
    return rng.choice([s, s, s.upper(), s.lower(), s.title()])


def html_wrap(body: str) -> str:
    return ("<!DOCTYPE html><html><head><style>td{padding:2px}</style><title>DXA</title></head><body>"
            + body + "</body></html>")


def rtf_wrap(lines: list[str]) -> str:
    def esc(s: str) -> str:
        out = []
        for ch in s:
            if ch in "\\{}":
                out.append("\\" + ch)
            elif ord(ch) > 127:
                out.append(f"\\u{ord(ch)}?")
            else:
                out.append(ch)
        return "".join(out)

    body = "\\par\n".join(esc(x) for x in lines)
    return ("{\\rtf1\\ansi\\ansicpg1252\\deff0{\\fonttbl{\\f0\\fswiss Arial;}}{\\colortbl;\\red0\\green0\\blue0;}\n"
            "\\viewkind4\\uc1\\pard\\f0\\fs20 " + body + "\\par\n}")


def b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def item(rid: str, layout: str, template: str, scan: Scan, text: str, content_type: str, exp: list[dict],
         *, as_base64: bool = False, unattributed: bool = False) -> dict:
    it = {"id": rid, "layout": layout, "template": template, "content_type": content_type,
          "resource_date": scan.resource_date.isoformat(), "expected": exp, "expect_unattributed": unattributed}
    if as_base64:
        it["data"] = b64(text)
    else:
        it["text"] = text
    return it


def write(path: Path, items: list[dict]) -> None:
    path.write_text(json.dumps({"count": len(items), "items": items}, indent=1, ensure_ascii=False) + "\n",
                    encoding="utf-8")
