"""Second development corpus (dev2.json), written after the first held-out measurement to widen the phrasings
tuned on without looking at held-out errors: double-spaced bullets, two-column tables, 'T = -2.1', dotted dates,
abbreviations (FN, L-spine), sentences with the value before the site, tab tables with percentage columns.

`python -m tests.dxa_reports.gen_dev2` rewrites dev2.json (deterministic).
"""

from __future__ import annotations

import random

from tests.dxa_reports.common import HERE, expected, fmt_date, fmt_value, html_wrap, item, make_scan, write

FORMS = ["ascii", "unicode", "words", "sd", "unicode_sd", "plus"]
NAMES = {
    "lumbar_l1_l4": ["L-spine L1-L4", "LS (L1-L4)", "lumbar L1-L4", "L1 through L4"],
    "total_hip": ["total hip", "TOTAL HIP", "hip, total"],
    "femoral_neck": ["femoral neck", "FN", "fem. neck"],
    "radius_33": ["33% radius", "radius (1/3)"],
}
SIDES = {"left": ["left", "Lt", "(L)"], "right": ["right", "Rt", "(R)"]}


def nm(rng: random.Random, site: str, side: str | None) -> str:
    base = rng.choice(NAMES[site])
    if not side:
        return base
    s = rng.choice(SIDES[side])
    return f"{base} {s}" if s.startswith("(") else f"{s} {base}"


def sites(rng: random.Random) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = [("lumbar_l1_l4", None)]
    for side in rng.sample(["left", "right"], rng.choice([1, 2])):
        out += [("femoral_neck", side), ("total_hip", side)]
    if rng.random() < 0.25:
        out.append(("radius_33", "left"))
    return out


def bullets(rng: random.Random, idx: int) -> dict:
    scan = make_scan(rng, sites(rng))
    lines = [f"DXA {fmt_date(rng, scan.scan_date, ['dotted', 'iso', 'long'])}", ""]
    for m in scan.measures:
        t, z = fmt_value(rng, m.t, FORMS), fmt_value(rng, m.z, FORMS)
        lines.append(rng.choice(["  -  {n}:   T-score {t}   Z-score {z}", "  o  {n}  T = {t}  Z = {z}",
                                 "{n}:\tT-score {t},\tZ-score {z}"]).format(n=nm(rng, m.site, m.side), t=t, z=z))
    lines += ["", "Prior DXA 2020: lumbar L1-L4 T-score -2.2.", "Reference: NHANES III (young adult mean)."]
    return item(f"dev2-bullets-{idx}", "bulleted", "dev2_bullets", scan, "\n".join(lines), "text/plain",
                expected(scan, True))


def two_col(rng: random.Random, idx: int) -> dict:
    scan = make_scan(rng, sites(rng), with_z=False)
    rows = "".join(f"<tr><td>{nm(rng, m.site, m.side)}</td><td>{fmt_value(rng, m.t, ['ascii', 'unicode'])}</td>"
                   "</tr>" for m in scan.measures)
    body = f"<p>Exam: DEXA</p><table><tr><th>Site</th><th>T-score</th></tr>{rows}</table>"
    return item(f"dev2-twocol-{idx}", "html", "dev2_two_column", scan, html_wrap(body), "text/html",
                expected(scan, False))


def value_first(rng: random.Random, idx: int) -> dict:
    scan = make_scan(rng, sites(rng), frax=rng.random() < 0.5)
    out = [f"Study date: {fmt_date(rng, scan.scan_date, ['us', 'dmy_abbr'])}."]
    for m in scan.measures:
        out.append(rng.choice([
            "A T-score of {t} was measured at the {n}, with a Z-score of {z}.",
            "T-score {t} and Z-score {z} at the {n}.",
            "The {n} has a T-score of {t} (Z {z}).",
        ]).format(t=fmt_value(rng, m.t, FORMS), z=fmt_value(rng, m.z, FORMS), n=nm(rng, m.site, m.side)))
    if scan.frax:
        out.append("FRAX (with BMD): major osteoporotic fracture risk {mof}% and hip fracture risk {hip}% over 10 "
                   "years.".format(**scan.frax))
    out.append("The T-score would need to be -2.5 or lower for a diagnosis of osteoporosis.")
    exp = expected(scan, True)
    return item(f"dev2-valuefirst-{idx}", "narrative", "dev2_value_first", scan, " ".join(out), "text/plain", exp)


def tab_table(rng: random.Random, idx: int) -> dict:
    scan = make_scan(rng, sites(rng))
    lines = [f"Date of scan: {fmt_date(rng, scan.scan_date, ['dotted', 'eu_long'])}", "",
             "Region\tBMD (g/cm2)\tYA %\tT-Score\tAM %\tZ-Score"]
    for m in scan.measures:
        label = {"lumbar_l1_l4": "L1-L4", "femoral_neck": "Neck", "total_hip": "Total", "radius_33": "1/3 Radius"}
        lab = label[m.site] + (f" {m.side.title()}" if m.side else "")
        lines.append(f"{lab}\t{m.bmd:.3f}\t{rng.randint(60, 110)}\t{m.t:.1f}\t{rng.randint(60, 110)}\t{m.z:.1f}")
    lines += ["", "Change vs previous: -1.8% (not significant)."]
    return item(f"dev2-tab-{idx}", "lunar_table", "dev2_tab_table", scan, "\n".join(lines), "text/plain",
                expected(scan, True))


def wrapped(rng: random.Random, idx: int) -> dict:
    """Narrative hard-wrapped at ~60 columns, as dictation systems print it."""
    scan = make_scan(rng, sites(rng))
    parts = [f"Examination date: {fmt_date(rng, scan.scan_date, ['iso', 'us'])}."]
    for m in scan.measures:
        n, t, z = nm(rng, m.site, m.side), fmt_value(rng, m.t, FORMS), fmt_value(rng, m.z, FORMS)
        parts.append(f"At the {n} the bone density corresponds to a T-score of {t} and a Z-score of {z}.")
    parts.append("Compared with the study of 2021 the femoral neck T-score was -2.4 then.")
    words, lines, cur = " ".join(parts).split(" "), [], ""
    for w in words:
        if len(cur) + len(w) + 1 > 60:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}".strip()
    lines.append(cur)
    return item(f"dev2-wrapped-{idx}", "narrative", "dev2_wrapped", scan, "\n".join(lines), "text/plain",
                expected(scan, True))


def noted_cells(rng: random.Random, idx: int) -> dict:
    """Pipe table whose score cells carry a note: "-2.6 (osteoporosis)", "-1.2 *"."""
    scan = make_scan(rng, sites(rng))
    lines = ["Bone Density Summary", "Region | BMD | T-Score | Z-Score"]
    for m in scan.measures:
        note = "(osteoporosis)" if m.t <= -2.5 else "(osteopenia)" if m.t < -1 else ""
        lines.append(f"{nm(rng, m.site, m.side)} | {m.bmd:.3f} | {m.t:.1f} {note} | {m.z:.1f}{rng.choice(['', ' *'])}")
    return item(f"dev2-noted-{idx}", "lunar_table", "dev2_noted_cells", scan, "\n".join(lines), "text/plain",
                expected(scan, False))


def build() -> list[dict]:
    rng = random.Random(4242)
    items = [bullets(rng, i) for i in range(10)]
    items += [two_col(rng, i) for i in range(8)]
    items += [value_first(rng, i) for i in range(10)]
    items += [tab_table(rng, i) for i in range(8)]
    items += [wrapped(rng, i) for i in range(8)]
    items += [noted_cells(rng, i) for i in range(6)]
    return items


if __name__ == "__main__":
    write(HERE / "dev2.json", build())
