"""report.html: one self-contained page (inline CSS/JS, SVG charts rendered here, no network) with the population
summary, charts by cause and over past runs, and one card per listed patient with an evidence timeline and the
recommended actions. Above `max_cards` listed patients: one page per care team plus an index page."""

from __future__ import annotations

import html
import re
from collections import Counter
from pathlib import Path
from string import Template

from screening.export.safe_files import atomic_write, ensure_private_dir

TEMPLATE = Path(__file__).with_name("templates") / "report.html"
MAX_CARDS = 2000
STATUSES = ["new", "continuing", "changed", "back: review due", "back: new evidence"]
KIND_LABEL = {"marker": "risk marker", "modifier": "modifier", "cause": "cause", "addressed": "addressed",
              "safety": "SAFETY", "data_quality": "data quality"}


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _group(h: dict) -> str:
    """Which part of the timeline a fact belongs to (DXA, fracture, glucocorticoid, lab, medication, ...)."""
    rule, kind, ref = h["rule_id"], h["kind"], (h["resource_ref"] or "")
    if rule in ("low_z_score", "osteoporosis_t_score", "spine_hip_discordance", "high_fracture_risk"):
        return "DXA / FRAX"
    if rule == "fragility_fracture":
        return "fracture"
    if kind == "safety":
        return "safety"
    if kind == "addressed":
        return "treatment / work-up"
    if rule == "glucocorticoid":
        return "glucocorticoid"
    if ref.startswith("Observation/"):
        return "lab"
    if ref.startswith("Medication"):
        return "medication"
    if ref.startswith(("Condition/", "Procedure/")):
        return "condition"
    return "other"


def bar_chart(counts: list[tuple[str, int]], width: int = 360) -> str:
    if not counts:
        return '<p>No patient listed.</p>'
    top = max(c for _, c in counts) or 1
    bar_h, label_w = 18, 150
    rows = []
    for i, (label, n) in enumerate(counts):
        y = i * (bar_h + 4)
        w = max(1, round((width - label_w - 40) * n / top))
        rows.append(f'<text x="{label_w - 4}" y="{y + 13}" text-anchor="end" font-size="12">{_e(label)}</text>'
                    f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_h}" fill="#0969da"><title>{_e(label)}: '
                    f'{n}</title></rect><text x="{label_w + w + 4}" y="{y + 13}" font-size="12">{n}</text>')
    h = len(counts) * (bar_h + 4)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="listed patients by cause" '
            f'width="{width}" height="{h}" viewBox="0 0 {width} {h}">{"".join(rows)}</svg>')


def trend_chart(trend: list[dict], width: int = 360, height: int = 150) -> str:
    if not trend:
        return "<p>No earlier run.</p>"
    pad = 30
    top = max(max(t["active"] or 0, t["listed"] or 0) for t in trend) or 1
    n = len(trend)

    def xy(i: int, v: int) -> str:
        x = pad + (width - 2 * pad) * (i / (n - 1) if n > 1 else 0.5)
        y = height - pad - (height - 2 * pad) * (v / top)
        return f"{x:.1f},{y:.1f}"

    parts = [f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#8c959f"/>']
    for key, colour in (("listed", "#8c959f"), ("active", "#0969da")):
        pts = " ".join(xy(i, t[key] or 0) for i, t in enumerate(trend))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{pts}"/>')
        for i, t in enumerate(trend):
            x, y = xy(i, t[key] or 0).split(",")
            parts.append(f'<circle cx="{x}" cy="{y}" r="3" fill="{colour}"><title>{_e(t["as_of"])}: {key} '
                         f'{t[key]}</title></circle>')
    parts.append(f'<text x="{pad}" y="{height - 8}" font-size="11">{_e(trend[0]["as_of"])}</text>')
    if n > 1:
        parts.append(f'<text x="{width - pad}" y="{height - 8}" font-size="11" text-anchor="end">'
                     f'{_e(trend[-1]["as_of"])}</text>')
    parts.append(f'<text x="{pad}" y="14" font-size="11" fill="#0969da">on the list</text>'
                 f'<text x="{pad + 80}" y="14" font-size="11" fill="#57606a">listed incl. suppressed</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="trend over runs" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}">{"".join(parts)}</svg>')


def card(row: dict, hits: list[dict]) -> str:
    search = " ".join(str(row.get(k) or "") for k in ("patient_id", "mrn", "name", "causes", "unaddressed",
                                                       "risk_markers", "evidence", "care_team")).lower()
    tl = []
    for h in hits:
        rng = ""
        if h.get("ref_low") is not None or h.get("ref_high") is not None:
            lo = "" if h["ref_low"] is None else f"{h['ref_low']:g}"
            hi = "" if h["ref_high"] is None else f"{h['ref_high']:g}"
            rng = f" · range {lo}–{hi} {h.get('ref_unit') or ''}".rstrip()
        if h.get("med_start") is not None:
            rng += f" · period {h['med_start']} – {h.get('med_end') or 'ongoing'}"
            if h.get("med_dose") is not None:
                rng += f", dose {h['med_dose']:g} {h.get('med_dose_unit') or ''}".rstrip()
        tl.append(f'<tr><td>{_e(h["evidence_date"] or "")}</td><td class="kind">{_e(_group(h))}</td>'
                  f'<td class="kind">{_e(KIND_LABEL.get(h["kind"], h["kind"]))}</td><td>{_e(h["detail"])}{_e(rng)}</td>'
                  f'<td class="kind">{_e(h["resource_ref"] or "")}</td></tr>')
    actions = "".join(f"<li>{_e(a)}</li>" for a in (row.get("recommended_actions") or "").split(";") if a)
    safety = '<span class="tag safety">SAFETY</span>' if row.get("safety") else ""
    prio = _e(row.get("priority"))
    return (
        f'<article class="card {prio}" data-patient="{_e(row["patient_id"])}" data-priority="{prio}" '
        f'data-status="{_e(row.get("status"))}" data-team="{_e(row.get("care_team"))}" '
        f'data-safety="{"true" if row.get("safety") else "false"}" data-search="{_e(search)}">'
        f'<h3>{_e(row.get("name") or row["patient_id"])} <small>MRN {_e(row.get("mrn"))} · born '
        f'{_e(row.get("birth_date"))} · {_e(row.get("sex"))}</small></h3>'
        f'<p>{safety}<span class="tag {prio}">{prio}</span><span class="tag">{_e(row.get("status"))}</span>'
        f'<span class="tag">{_e(row.get("care_team"))}</span> first listed {_e(row.get("first_listed"))}'
        f'{" · last disposition: " + _e(row.get("last_disposition")) if row.get("last_disposition") else ""}</p>'
        f'<p><b>Unaddressed:</b> {_e((row.get("unaddressed") or "").replace(";", ", "))} · <b>markers:</b> '
        f'{_e((row.get("risk_markers") or "").replace(";", ", "))}</p>'
        f'<table class="tl"><thead><tr><th>date</th><th>what</th><th>kind</th><th>evidence</th><th>resource</th>'
        f'</tr></thead><tbody>{"".join(tl)}</tbody></table>'
        f'<b>Recommended actions</b><ol class="actions">{actions}</ol></article>')


def _page(title: str, subtitle: str, kpis: list[tuple[str, object]], rows: list[dict], hits: dict[str, list[dict]],
          trend: list[dict], nav: str = "") -> str:
    causes = Counter(c for r in rows for c in (r.get("unaddressed") or "").split(";") if c)
    markers = Counter(m for r in rows for m in (r.get("risk_markers") or "").split(";") if m)
    teams = sorted({r.get("care_team") or "" for r in rows})
    return Template(TEMPLATE.read_text(encoding="utf-8")).substitute(
        title=_e(title), subtitle=_e(subtitle), nav=nav,
        kpis="".join(f'<div class="kpi"><b>{_e(v)}</b><span>{_e(k)}</span></div>' for k, v in kpis),
        cause_chart=bar_chart(sorted(causes.items(), key=lambda kv: (-kv[1], kv[0]))),
        marker_chart=bar_chart(sorted(markers.items(), key=lambda kv: (-kv[1], kv[0]))),
        trend_chart=trend_chart(trend),
        status_options="".join(f"<option>{_e(s)}</option>" for s in STATUSES),
        team_options="".join(f"<option>{_e(t)}</option>" for t in teams),
        cards="\n".join(card(r, hits.get(r["patient_id"], [])) for r in rows))


def _slug(team: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", team.lower()).strip("-")[:40] or "team"
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    taken.add(slug)
    return slug


def write_report(out_dir: Path, rows: list[dict], hits: dict[str, list[dict]], trend: list[dict],
                 kpis: list[tuple[str, object]], as_of: str, max_cards: int = MAX_CARDS) -> list[Path]:
    """Write report.html, or report/index.html plus one page per care team above `max_cards`; returns the pages."""
    out_dir = Path(out_dir)
    title = "osteoscreen worklist"
    if len(rows) <= max_cards:
        text = _page(title, f"as of {as_of}", kpis, rows, hits, trend)
        return [atomic_write(out_dir / "report.html", lambda fh: fh.write(text))]
    folder = ensure_private_dir(out_dir / "report")
    by_team: dict[str, list[dict]] = {}
    for r in rows:
        by_team.setdefault(r.get("care_team") or "Unassigned", []).append(r)
    taken: set[str] = set()
    pages, links = [], []
    for team in sorted(by_team):
        slug = _slug(team, taken)
        nav = '<nav><a href="index.html">all care teams</a></nav>'
        text = _page(f"{title}: {team}", f"as of {as_of} · {len(by_team[team])} patients", kpis, by_team[team],
                     hits, trend, nav)
        pages.append(atomic_write(folder / f"team-{slug}.html", lambda fh, t=text: fh.write(t)))
        links.append(f'<li><a href="team-{slug}.html">{_e(team)}</a> ({len(by_team[team])})</li>')
    index = _page(title, f"as of {as_of} · {len(rows)} patients in {len(by_team)} care teams", kpis, [], {}, trend,
                  "<nav><h2>Care teams</h2><ul>" + "".join(links) + "</ul></nav>")
    return [atomic_write(folder / "index.html", lambda fh: fh.write(index)), *pages]
