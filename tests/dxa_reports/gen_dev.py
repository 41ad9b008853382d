"""Development corpus: templates and phrasings used while writing and tuning the extractor.

Run `python -m tests.dxa_reports.gen_dev` to rewrite dev.json (deterministic, seed fixed). The held-out corpus
(gen_heldout.py / heldout.json) uses other templates and phrasings and was frozen before the extractor existed.
"""

from __future__ import annotations

import random

from tests.dxa_reports.common import (
    HERE,
    Scan,
    casing,
    expected,
    fmt_date,
    fmt_value,
    html_wrap,
    item,
    make_scan,
    rtf_wrap,
    write,
)

VALUE_FORMS = ["ascii", "ascii", "unicode", "words", "sd"]
DATE_FORMS = ["iso", "us", "long"]
SIDE = {"left": ["left", "Left", "LEFT", "Lt"], "right": ["right", "Right", "RIGHT", "Rt"], None: [""]}
NAMES = {
    "lumbar_l1_l4": ["lumbar spine (L1-L4)", "L1-L4", "Lumbar spine L1-L4", "L1\u2013L4", "AP spine L1-L4"],
    "lumbar_l2_l4": ["L2-L4", "lumbar spine (L2-L4)", "L2\u2013L4"],
    "total_hip": ["total hip", "Total Hip", "hip (total)"],
    "femoral_neck": ["femoral neck", "Femoral Neck", "fem neck"],
    "trochanter": ["trochanter", "Trochanter"],
    "radius_33": ["1/3 radius", "33% radius", "radius 1/3"],
    "forearm": ["total forearm", "forearm"],
}

TRAPS = [
    # (text template, kind): never scores
    ("Compared with the prior study of {yr}, when the {site} T-score was {v}, there is no significant change.",
     "prior"),
    ("Prior study {yr}: {site} T-score {v}.", "prior"),
    ("BMD at the {site} has changed by {pct}% since {yr}.", "change"),
    ("The {site} BMD is {bmd} g/cm2.", "bmd"),
    ("T-scores compare the patient with the young adult reference population (NHANES III); a T-score of -2.5 or "
     "below is osteoporosis.", "reference"),
    ("WHO criteria: normal T-score -1.0 or above; osteopenia between -1.0 and -2.5; osteoporosis -2.5 or below.",
     "reference"),
    ("No T-score below -2.5 was found at the {site}.", "negated"),
    ("If the {site} T-score were {v}, treatment would be recommended.", "hypothetical"),
    ("Treatment is suggested when FRAX exceeds 20% for major osteoporotic fracture or 3% for hip fracture.",
     "frax_threshold"),
]


def site_name(rng: random.Random, site: str, side: str | None) -> str:
    base = casing(rng, rng.choice(NAMES[site]))
    if side:
        return f"{rng.choice(SIDE[side])} {base}"
    return base


def trap_lines(rng: random.Random, n: int) -> list[str]:
    out = []
    for tmpl, _kind in rng.sample(TRAPS, n):
        out.append(tmpl.format(yr=rng.choice([2018, 2019, 2021]), site=rng.choice(["femoral neck", "lumbar spine",
                               "total hip"]), v=fmt_value(rng, -rng.uniform(1.5, 3.5), ["ascii", "unicode"]),
                               pct=f"-{rng.uniform(0.5, 6):.1f}", bmd=f"{rng.uniform(0.5, 1.1):.3f}"))
    return out


def frax_line(rng: random.Random, scan: Scan) -> str:
    return rng.choice([
        "FRAX 10-year probability: major osteoporotic fracture {mof}%, hip fracture {hip}%.",
        "FRAX: 10-year probability of major osteoporotic fracture is {mof}% and of hip fracture {hip}%.",
    ]).format(**scan.frax)


def sites_for(rng: random.Random, hips: int = 1) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = [("lumbar_l1_l4", None)]
    sides = rng.sample(["left", "right"], hips) if hips else []
    for side in sides:
        out += [("femoral_neck", side), ("total_hip", side)]
    if rng.random() < 0.2:
        out.append(("radius_33", rng.choice(["left", "right"])))
    return out


# ---------------------------------------------------------------- layouts
def hologic(rng: random.Random, idx: int) -> dict:
    sites: list[tuple[str, str | None]] = [(f"L{i}", None) for i in range(1, 5)] + [("lumbar_l1_l4", None)]
    side = rng.choice(["left", "right"])
    sites += [(s, side) for s in ("femoral_neck", "trochanter", "intertrochanter", "total_hip")]
    scan = make_scan(rng, sites, low=rng.random() < 0.5)
    dt = fmt_date(rng, scan.scan_date, DATE_FORMS)
    lines = ["DUAL ENERGY X-RAY ABSORPTIOMETRY", f"Scan Date: {dt}", "", "DXA Results Summary: Lumbar Spine",
             f"{'Region':<10}{'Area(cm2)':>11}{'BMC(g)':>9}{'BMD(g/cm2)':>12}{'T-Score':>9}{'PR(%)':>7}"
             f"{'Z-Score':>9}{'AM(%)':>7}"]
    row_name = {"L1": "L1", "L2": "L2", "L3": "L3", "L4": "L4", "lumbar_l1_l4": "Total", "femoral_neck": "Neck",
                "trochanter": "Troch", "intertrochanter": "Inter", "total_hip": "Total"}
    for k, m in enumerate(scan.measures):
        if k == 5:
            lines += ["", f"DXA Results Summary: {side.title()} Hip",
                      f"{'Region':<10}{'Area(cm2)':>11}{'BMC(g)':>9}{'BMD(g/cm2)':>12}{'T-Score':>9}{'PR(%)':>7}"
                      f"{'Z-Score':>9}{'AM(%)':>7}"]
        lines.append(f"{row_name[m.site]:<10}{rng.uniform(10, 40):>11.2f}{rng.uniform(5, 30):>9.2f}{m.bmd:>12.3f}"
                     f"{m.t:>9.1f}{rng.randint(60, 110):>7d}{m.z:>9.1f}{rng.randint(60, 110):>7d}")
    lines += ["", "Total BMD CV 1.0%. WHO Classification: " + rng.choice(["Osteopenia", "Osteoporosis", "Normal"])]
    if rng.random() < 0.5:
        lines += trap_lines(rng, 2)
    return item(f"dev-hologic-{idx}", "hologic_table", "dev_hologic", scan, "\n".join(lines), "text/plain",
                expected(scan, True))


def lunar(rng: random.Random, idx: int) -> tuple[str, Scan, bool]:
    sites: list[tuple[str, str | None]] = [("lumbar_l1_l4", None)]
    if rng.random() < 0.4:
        sites.append(("lumbar_l2_l4", None))
    for side in rng.sample(["left", "right"], rng.choice([1, 2])):
        sites += [("femoral_neck", side), ("total_hip", side)]
    scan = make_scan(rng, sites, frax=rng.random() < 0.3)
    has_date = rng.random() < 0.8
    lines = ["GE Lunar Prodigy - Bone Densitometry Report"]
    if has_date:
        lines.append(f"Exam date: {fmt_date(rng, scan.scan_date, DATE_FORMS)}")
    lines += ["", "Region | BMD (g/cm\u00b2) | T-score | Z-score"]
    for m in scan.measures:
        nm = {"lumbar_l1_l4": "L1-L4", "lumbar_l2_l4": "L2-L4", "femoral_neck": "Neck", "total_hip": "Total"}[m.site]
        if m.side:
            nm = f"{nm} {m.side.title()}" if rng.random() < 0.5 else f"{m.side.title()} {nm}"
        lines.append(f"{nm} | {m.bmd:.3f} | {fmt_value(rng, m.t, ['ascii', 'unicode'])} | "
                     f"{fmt_value(rng, m.z, ['ascii', 'unicode'])}")
    lines.append("")
    if scan.frax:
        lines.append(frax_line(rng, scan))
    if rng.random() < 0.6:
        lines += trap_lines(rng, 2)
    return "\n".join(lines), scan, has_date


def lunar_item(rng: random.Random, idx: int) -> dict:
    text, scan, has_date = lunar(rng, idx)
    return item(f"dev-lunar-{idx}", "lunar_table", "dev_lunar", scan, text, "text/plain", expected(scan, has_date))


def narrative_lines(rng: random.Random, scan: Scan) -> list[str]:
    out = []
    for m in scan.measures:
        nm = site_name(rng, m.site, m.side)
        t = fmt_value(rng, m.t, VALUE_FORMS)
        z = fmt_value(rng, m.z, VALUE_FORMS)
        out.append(rng.choice([
            "The {nm} BMD is {bmd} g/cm2, with a T-score of {t} and a Z-score of {z}.",
            "At the {nm}, the T-score is {t} and the Z-score is {z}.",
            "{Nm} T-score {t}, Z-score {z}.",
            "The T-score at the {nm} is {t}; the Z-score is {z}.",
        ]).format(nm=nm, Nm=nm[0].upper() + nm[1:], t=t, z=z, bmd=f"{m.bmd:.3f}"))
    return out


def narrative(rng: random.Random, idx: int, wrap: str = "plain") -> dict:
    scan = make_scan(rng, sites_for(rng, rng.choice([1, 1, 2])), frax=rng.random() < 0.3, low=rng.random() < 0.4)
    has_date = rng.random() < 0.7
    lines = [rng.choice(["EXAM: DXA bone density", "BONE DENSITOMETRY (DXA)", "Procedure: DEXA scan"])]
    if has_date:
        lines.append(f"{rng.choice(['Date of exam', 'Scan date', 'Study date'])}: "
                     f"{fmt_date(rng, scan.scan_date, DATE_FORMS)}")
    lines.append("FINDINGS:")
    body = narrative_lines(rng, scan)
    traps = trap_lines(rng, rng.choice([0, 1, 2, 3]))
    for t in traps:
        body.insert(rng.randrange(len(body) + 1), t)
    lines += body
    if scan.frax:
        lines.append(frax_line(rng, scan))
    lowest = min(scan.measures, key=lambda m: m.t)
    lines.append("IMPRESSION: " + rng.choice([
        f"The lowest T-score is {fmt_value(rng, lowest.t, VALUE_FORMS)} at the "
        f"{site_name(rng, lowest.site, lowest.side)}.",
        "Findings as above.",
    ]))
    exp = expected(scan, has_date)
    if wrap == "plain":
        return item(f"dev-narr-{idx}", "narrative", "dev_narrative", scan, "\n".join(lines), "text/plain", exp)
    if wrap == "rtf":
        return item(f"dev-rtf-{idx}", "rtf", "dev_rtf", scan, rtf_wrap(lines), "text/rtf", exp)
    return item(f"dev-b64-{idx}", "base64", "dev_base64", scan, "\n".join(lines), "text/plain", exp, as_base64=True)


def bulleted(rng: random.Random, idx: int) -> dict:
    scan = make_scan(rng, sites_for(rng, rng.choice([1, 2])), frax=rng.random() < 0.3)
    has_date = rng.random() < 0.7
    lines = ["DXA RESULTS"]
    if has_date:
        lines.append(f"Scan date: {fmt_date(rng, scan.scan_date, DATE_FORMS)}")
    for m in scan.measures:
        nm = site_name(rng, m.site, m.side)
        lines.append(rng.choice(["- {nm}: T-score {t}, Z-score {z}", "* {nm}: T-score: {t}; Z-score: {z}",
                                 "- {nm} - T-score {t} / Z-score {z}"]).format(
            nm=nm[0].upper() + nm[1:], t=fmt_value(rng, m.t, VALUE_FORMS), z=fmt_value(rng, m.z, VALUE_FORMS)))
    if scan.frax:
        lines.append("- " + frax_line(rng, scan))
    lines += ["- " + t for t in trap_lines(rng, rng.choice([0, 1, 2]))]
    return item(f"dev-bullet-{idx}", "bulleted", "dev_bulleted", scan, "\n".join(lines), "text/plain",
                expected(scan, has_date))


def html_table(rng: random.Random, idx: int) -> dict:
    scan = make_scan(rng, sites_for(rng, rng.choice([1, 2])))
    dt = fmt_date(rng, scan.scan_date, DATE_FORMS)
    rows = "".join(
        f"<tr><td>{site_name(rng, m.site, m.side)}</td><td>{m.bmd:.3f}</td><td>{fmt_value(rng, m.t, ['ascii'])}</td>"
        f"<td>{fmt_value(rng, m.z, ['ascii'])}</td></tr>" for m in scan.measures)
    traps = "".join(f"<p>{t}</p>" for t in trap_lines(rng, rng.choice([0, 1, 2])))
    body = (f"<h2>DXA Bone Density</h2><p>Scan date: {dt}</p><table border=1><tr><th>Region</th><th>BMD "
            f"(g/cm<sup>2</sup>)</th><th>T-score</th><th>Z-score</th></tr>{rows}</table>{traps}")
    return item(f"dev-html-{idx}", "html", "dev_html", scan, html_wrap(body), "text/html", expected(scan, True))


def unattributed(rng: random.Random, idx: int) -> dict:
    scan = make_scan(rng, [("lumbar_l1_l4", None)])
    text = rng.choice([
        "DXA bone density. IMPRESSION: Osteopenia. T-score {v}.",
        "Bone densitometry report.\nThe T-score is {v}; follow-up in two years.",
        "DEXA: Z-score of {v} noted. Clinical correlation advised.",
    ]).format(v=fmt_value(rng, scan.measures[0].t, ["ascii"]))
    return item(f"dev-unattr-{idx}", "narrative", "dev_unattributed", scan, text, "text/plain", [],
                unattributed=True)


def trap_only(rng: random.Random, idx: int) -> dict:
    scan = make_scan(rng, [("lumbar_l1_l4", None)])
    text = "DXA report addendum.\n" + "\n".join(trap_lines(rng, 3))
    return item(f"dev-trap-{idx}", "narrative", "dev_trap_only", scan, text, "text/plain", [])


def build() -> list[dict]:
    rng = random.Random(20260301)
    items = []
    for i in range(12):
        items.append(hologic(rng, i))
    for i in range(14):
        items.append(lunar_item(rng, i))
    for i in range(16):
        items.append(narrative(rng, i))
    for i in range(12):
        items.append(bulleted(rng, i))
    for i in range(10):
        items.append(html_table(rng, i))
    for i in range(10):
        items.append(narrative(rng, i, "rtf"))
    for i in range(10):
        items.append(narrative(rng, i, "base64"))
    for i in range(4):
        items.append(unattributed(rng, i))
    for i in range(4):
        items.append(trap_only(rng, i))
    return items


if __name__ == "__main__":
    write(HERE / "dev.json", build())
