"""Held-out corpus: templates and phrasings NOT used while developing the extractor.

Written and frozen (heldout.json committed) before the extractor existed; the extractor and its grammar were
tuned on dev.json only. `python -m tests.dxa_reports.gen_heldout` rewrites heldout.json (deterministic).
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

VALUE_FORMS = ["ascii", "unicode", "unicode", "words", "sd", "unicode_sd", "plus"]
DATE_FORMS = ["eu_long", "dmy_abbr", "iso", "us"]
SIDE = {"left": ["left", "LEFT", "L"], "right": ["right", "RIGHT", "R"]}
NAMES = {
    "lumbar_l1_l4": ["L1 - L4", "lumbar vertebrae L1-4", "Spine L1-L4", "AP Spine (L1-L4)"],
    "lumbar_l2_l4": ["L2 - L4", "Spine L2-L4"],
    "total_hip": ["total proximal femur", "Hip Total", "TOTAL HIP"],
    "femoral_neck": ["neck of femur", "femoral neck", "Femur Neck"],
    "trochanter": ["greater trochanter", "trochanteric region"],
    "radius_33": ["one-third radius", "radius 33%", "distal 1/3 radius"],
}


def nm(rng: random.Random, site: str, side: str | None) -> str:
    base = casing(rng, rng.choice(NAMES[site]))
    if not side:
        return base
    s = rng.choice(SIDE[side])
    return rng.choice([f"{s} {base}", f"{base} ({s})", f"{base}, {s}"]) if len(s) > 1 else f"{base} ({s})"


TRAPS = [
    "Previous DXA on {d} demonstrated a {site} T-score of {v}.",
    "In {yr} the {site} T-score measured {v}.",
    "There has been a {pct}% decline in {site} bone density compared to baseline.",
    "{Site} bone mineral density: {bmd} gm/cm\u00b2 (change {pct}%).",
    "Reference database: USA (combined NHANES/Lunar); T-score between -1.0 and -2.5 indicates osteopenia.",
    "Osteoporosis is defined as a T-score of -2.5 or less.",
    "Should the {site} T-score fall to {v} or lower, pharmacotherapy should be considered.",
    "The Z-score is not below -2.0 at any site.",
    "An intervention threshold of 20% (major osteoporotic) and 3% (hip) is used for FRAX.",
]


def traps(rng: random.Random, n: int, scan: Scan) -> list[str]:
    out = []
    for t in rng.sample(TRAPS, n):
        site = rng.choice(["femoral neck", "lumbar spine", "total hip"])
        out.append(t.format(d=fmt_date(rng, scan.scan_date.replace(year=scan.scan_date.year - 3), ["iso", "us"]),
                            yr=rng.choice([2017, 2020]), site=site, Site=site.capitalize(),
                            v=fmt_value(rng, -rng.uniform(1.5, 3.6), ["ascii", "unicode"]),
                            pct=f"{-rng.uniform(0.4, 7):.1f}", bmd=f"{rng.uniform(0.5, 1.1):.3f}"))
    return out


def frax_text(rng: random.Random, scan: Scan) -> str:
    return rng.choice([
        "10-year fracture probability (FRAX): Major osteoporotic {mof}% ; Hip {hip}%",
        "FRAX\u00ae estimates a ten-year risk of {mof}% for a major osteoporotic fracture and {hip}% for a hip "
        "fracture.",
    ]).format(**scan.frax)


def hologic_b(rng: random.Random, idx: int) -> dict:
    side = rng.choice(["left", "right"])
    sites: list[tuple[str, str | None]] = [(f"L{i}", None) for i in range(1, 5)] + [("lumbar_l1_l4", None)]
    sites += [(s, side) for s in ("femoral_neck", "trochanter", "intertrochanter", "total_hip", "wards")]
    scan = make_scan(rng, sites, low=rng.random() < 0.5)
    hdr = "Region\tArea [cm\u00b2]\tBMC [g]\tBMD [g/cm\u00b2]\tT - score\tPR (%)\tZ - score\tAM (%)"
    lines = ["Hologic Horizon A  (S/N 300123)", f"Acquired: {fmt_date(rng, scan.scan_date, DATE_FORMS)}", "",
             "AP Spine Bone Density", hdr]
    names = {"lumbar_l1_l4": "Total", "femoral_neck": "Neck", "trochanter": "Troch", "intertrochanter": "Inter",
             "total_hip": "Total", "wards": "Ward's"}
    for k, m in enumerate(scan.measures):
        if k == 5:
            lines += ["", f"{side.title()} Femur Bone Density", hdr]
        lines.append("\t".join([names.get(m.site, m.site), f"{rng.uniform(5, 40):.2f}", f"{rng.uniform(3, 30):.2f}",
                                f"{m.bmd:.3f}", f"{m.t:.1f}", str(rng.randint(55, 110)), f"{m.z:.1f}",
                                str(rng.randint(55, 110))]))
    lines += ["", "Comments:"] + traps(rng, 2, scan)
    return item(f"ho-hologic-{idx}", "hologic_table", "heldout_hologic_tabs", scan, "\n".join(lines),
                "text/plain", expected(scan, True))


def lunar_b(rng: random.Random, idx: int) -> dict:
    sites: list[tuple[str, str | None]] = [("lumbar_l2_l4", None), ("lumbar_l1_l4", None)]
    sides = rng.sample(["left", "right"], 2)
    for side in sides:
        sites += [("femoral_neck", side), ("total_hip", side)]
    scan = make_scan(rng, sites, frax=rng.random() < 0.4)
    lines = ["enCORE  Lunar iDXA", f"Measured: {fmt_date(rng, scan.scan_date, DATE_FORMS)}", "",
             "Region   BMD (g/cm2)   Young-Adult (%)   Young-Adult T-Score   Age-Matched (%)   Age-Matched Z-Score"]
    for m in scan.measures:
        label = {"lumbar_l1_l4": "L1-L4", "lumbar_l2_l4": "L2-L4", "femoral_neck": "Neck",
                 "total_hip": "Total"}[m.site]
        if m.side:
            label = f"{label} ({m.side[0].upper()})" if rng.random() < 0.5 else f"{m.side.title()} {label}"
        lines.append(f"{label:<14}{m.bmd:<14.3f}{rng.randint(60, 110):<18d}{m.t:<22.1f}{rng.randint(60, 110):<18d}"
                     f"{m.z:.1f}")
    lines.append("")
    if scan.frax:
        lines.append(frax_text(rng, scan))
    lines += traps(rng, 1, scan)
    return item(f"ho-lunar-{idx}", "lunar_table", "heldout_lunar_spaces", scan, "\n".join(lines), "text/plain",
                expected(scan, True))


def sentences(rng: random.Random, scan: Scan) -> list[str]:
    out = []
    for m in scan.measures:
        t, z = fmt_value(rng, m.t, VALUE_FORMS), fmt_value(rng, m.z, VALUE_FORMS)
        n = nm(rng, m.site, m.side)
        out.append(rng.choice([
            "Bone mineral density of the {n} measures {bmd} g/cm2, corresponding to a T score of {t} and a Z score "
            "of {z}.",
            "{N}: BMD {bmd} g/cm2, T-score {t}, Z-score {z}.",
            "For the {n} the T-score was {t} and the Z-score {z}.",
            "{N} demonstrates a T-score of {t} (Z-score {z}).",
        ]).format(n=n, N=n[0].upper() + n[1:], t=t, z=z, bmd=f"{m.bmd:.3f}"))
    return out


def narrative_b(rng: random.Random, idx: int, wrap: str) -> dict:
    sites: list[tuple[str, str | None]] = [("lumbar_l1_l4", None)]
    for side in rng.sample(["left", "right"], rng.choice([1, 2])):
        sites += [("femoral_neck", side), ("total_hip", side)]
    if rng.random() < 0.3:
        sites.append(("radius_33", "left"))
    scan = make_scan(rng, sites, frax=rng.random() < 0.4, low=rng.random() < 0.4)
    has_date = rng.random() < 0.6
    lines = [rng.choice(["DXA BONE MINERAL DENSITY STUDY", "Bone density (DEXA) - axial skeleton"])]
    if has_date:
        lines.append(f"{rng.choice(['Examination date', 'Date of service', 'DOS'])}: "
                     f"{fmt_date(rng, scan.scan_date, DATE_FORMS)}")
    lines += ["Technique: Hologic scanner, standard positioning.", "Results:"]
    body = sentences(rng, scan)
    for t in traps(rng, rng.choice([1, 2, 3]), scan):
        body.insert(rng.randrange(len(body) + 1), t)
    lines += body
    if scan.frax:
        lines.append(frax_text(rng, scan))
    lowest = min(scan.measures, key=lambda m: m.t)
    lines.append(f"CONCLUSION: WHO classification {'osteoporosis' if lowest.t <= -2.5 else 'low bone mass'}; "
                 f"lowest T-score {fmt_value(rng, lowest.t, VALUE_FORMS)} at the {nm(rng, lowest.site, lowest.side)}.")
    exp = expected(scan, has_date)
    if wrap == "plain":
        return item(f"ho-narr-{idx}", "narrative", "heldout_narrative", scan, "\n".join(lines), "text/plain", exp)
    if wrap == "rtf":
        return item(f"ho-rtf-{idx}", "rtf", "heldout_rtf", scan, rtf_wrap(lines), "text/rtf", exp)
    if wrap == "html":
        body_html = "".join(f"<p>{ln.replace(chr(0x2212), '&minus;')}</p>" for ln in lines)
        return item(f"ho-html-{idx}", "html", "heldout_html_paragraphs", scan, html_wrap(body_html), "text/html",
                    exp)
    html = html_wrap("<br/>".join(lines))
    return item(f"ho-b64-{idx}", "base64", "heldout_base64_html", scan, html, "text/html", exp, as_base64=True)


def bulleted_b(rng: random.Random, idx: int) -> dict:
    sites: list[tuple[str, str | None]] = [("lumbar_l1_l4", None), ("femoral_neck", "left"), ("total_hip", "left")]
    if rng.random() < 0.5:
        sites += [("femoral_neck", "right"), ("total_hip", "right")]
    scan = make_scan(rng, sites, frax=rng.random() < 0.4)
    lines = [f"Bone densitometry {fmt_date(rng, scan.scan_date, DATE_FORMS)}", "Summary of results:"]
    for m in scan.measures:
        lines.append(rng.choice(["\u2022 {n} \u2014 T-score {t}, Z-score {z}",
                                 "  * {N}:  T-score = {t},  Z-score = {z}",
                                 "\u2022 {N}: T-score {t} | Z-score {z}"]).format(
            n=nm(rng, m.site, m.side), N=nm(rng, m.site, m.side).upper(), t=fmt_value(rng, m.t, VALUE_FORMS),
            z=fmt_value(rng, m.z, VALUE_FORMS)))
    if scan.frax:
        lines.append("\u2022 " + frax_text(rng, scan))
    lines += ["\u2022 " + t for t in traps(rng, 2, scan)]
    # Dated in the heading: the date counts as the scan date
    return item(f"ho-bullet-{idx}", "bulleted", "heldout_bulleted", scan, "\n".join(lines), "text/plain",
                expected(scan, True))


def unattributed_b(rng: random.Random, idx: int) -> dict:
    scan = make_scan(rng, [("lumbar_l1_l4", None)])
    text = rng.choice(["Bone density: T-score {v} (see scanned document).",
                       "DXA performed. Z-score {v}. Recommend calcium and vitamin D."]).format(
        v=fmt_value(rng, scan.measures[0].t, ["unicode"]))
    return item(f"ho-unattr-{idx}", "narrative", "heldout_unattributed", scan, text, "text/plain", [],
                unattributed=True)


def build() -> list[dict]:
    rng = random.Random(777001)
    items = [hologic_b(rng, i) for i in range(9)]
    items += [lunar_b(rng, i) for i in range(9)]
    items += [narrative_b(rng, i, "plain") for i in range(10)]
    items += [bulleted_b(rng, i) for i in range(8)]
    items += [narrative_b(rng, i, "html") for i in range(7)]
    items += [narrative_b(rng, i, "rtf") for i in range(7)]
    items += [narrative_b(rng, i, "b64") for i in range(7)]
    items += [unattributed_b(rng, i) for i in range(3)]
    return items


if __name__ == "__main__":
    write(HERE / "heldout.json", build())
