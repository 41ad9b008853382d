"""Rule-based reading of DXA report text: T-/Z-scores per site, FRAX probabilities and the scan date.

The patterns are data (config/dxa_report/grammar.toml); this module only applies them. Why rules and not a
model: every number on the worklist must be traceable to a quoted sentence, and a number that cannot be
attributed to one site and one score type must be reported, never guessed.

Two readers: vendor tables (a header row naming the T / Z columns; Hologic "Region BMD T-score PR Z-score AM",
GE Lunar "Region | BMD | T-score | Z-score") read by column; everything else sentence by sentence, where a number
is a score only when a T/Z word precedes it in its sentence, no trap marker (historical, change, negation,
hypothesis, threshold, reference population) governs it, and a site can be attributed.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

from screening.errors import ConfigError
from screening.paths import CONFIG_DIR

MONTHS = {m: i + 1 for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                            "nov", "dec"])}
_MONTH_RE = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
DATE_RE = re.compile(
    r"\b(?P<iso>(?P<iy>(?:19|20)\d\d)-(?P<im>\d{1,2})-(?P<id>\d{1,2}))\b"
    r"|\b(?P<sl>(?P<s1>\d{1,2})[/.](?P<s2>\d{1,2})[/.](?P<sy>(?:19|20)\d\d))\b"
    r"|\b(?P<mdy>(?P<mm>" + _MONTH_RE + r")\s+(?P<md>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<my>(?:19|20)\d\d))\b"
    r"|\b(?P<dmy>(?P<dd>\d{1,2})(?:st|nd|rd|th)?[\s-]+(?P<dm>" + _MONTH_RE + r")[\s-]+(?P<dy>(?:19|20)\d\d))\b",
    re.I,
)


@dataclass(frozen=True)
class Site:
    id: str
    model: str
    label: str
    rank: int
    patterns: tuple[re.Pattern, ...]
    absorbs: tuple[str, ...] = ()
    numbered: bool = False


@dataclass
class Grammar:
    version: str
    title: list[re.Pattern]
    t: list[re.Pattern]
    z: list[re.Pattern]
    other_context: list[re.Pattern]
    sites: list[Site]
    total_row: re.Pattern
    section_site: dict[str, list[re.Pattern]]
    left: list[re.Pattern]
    right: list[re.Pattern]
    number: re.Pattern
    vmin: float
    vmax: float
    unit_after: list[re.Pattern]
    threshold_before: list[re.Pattern]
    threshold_after: list[re.Pattern]
    scope_traps: list[re.Pattern]
    historical: list[re.Pattern]
    reference: list[re.Pattern]
    frax_sentence: list[re.Pattern]
    frax_mof: list[re.Pattern]
    frax_hip: list[re.Pattern]
    frax_value: re.Pattern
    frax_threshold: list[re.Pattern]
    date_labels: list[re.Pattern]
    date_exclude: list[re.Pattern]
    slash_order: str

    def site(self, sid: str) -> Site:
        return next(s for s in self.sites if s.id == sid)


def _c(patterns: list[str]) -> list[re.Pattern]:
    return [re.compile(p, re.I) for p in patterns]


def grammar_path(config_dirs: list[Path] | None = None) -> Path:
    for d in reversed(config_dirs or []):
        p = Path(d) / "dxa_report" / "grammar.toml"
        if p.exists():
            return p
    return CONFIG_DIR / "dxa_report" / "grammar.toml"


def load_grammar(path: Path | None = None) -> Grammar:
    """Compile the grammar file; a missing key, bad TOML or a bad pattern is a ConfigError naming the file."""
    path = Path(path or grammar_path())
    try:
        return _load_grammar(path, path.stat().st_mtime_ns)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the DXA report grammar: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except KeyError as exc:
        raise ConfigError(f"{path}: the DXA report grammar lacks {exc}") from None
    except re.error as exc:
        raise ConfigError(f"{path}: bad pattern {exc.pattern!r}: {exc}") from None


@lru_cache(maxsize=8)
def _load_grammar(path: Path, _mtime: int) -> Grammar:
    g = tomllib.loads(path.read_text(encoding="utf-8"))
    sites = [Site(s["id"], s["model"], s["label"], int(s.get("rank", 1)), tuple(_c(s["patterns"])),
                  tuple(s.get("absorbs", ())), bool(s.get("numbered", False))) for s in g["site"]]
    tr = g["trap"]
    return Grammar(
        version=g["meta"]["version"], title=_c(g["report"]["title"]),
        t=_c(g["score_type"]["T"]), z=_c(g["score_type"]["Z"]), other_context=_c(g["score_type"]["other_context"]),
        sites=sites, total_row=re.compile(g["table"]["total_row"], re.I),
        section_site={k: _c(v) for k, v in g["table"]["section_site"].items()},
        left=_c(g["side"]["left"]), right=_c(g["side"]["right"]),
        number=re.compile(g["value"]["number"], re.I), vmin=float(g["value"]["min"]), vmax=float(g["value"]["max"]),
        unit_after=_c(g["value"]["unit_after"]), threshold_before=_c(g["value"]["threshold_before"]),
        threshold_after=_c(g["value"]["threshold_after"]),
        scope_traps=_c(tr["historical"] + tr["change"] + tr["negated"] + tr["hypothetical"]),
        historical=_c(tr["historical"]), reference=_c(tr["reference"]),
        frax_sentence=_c(g["frax"]["sentence"]), frax_mof=_c(g["frax"]["mof"]), frax_hip=_c(g["frax"]["hip"]),
        frax_value=re.compile(g["frax"]["value"], re.I), frax_threshold=_c(g["frax"]["threshold"]),
        date_labels=_c(g["date"]["labels"]), date_exclude=_c(g["date"]["exclude"]),
        slash_order=g["date"].get("slash_order", "MDY"),
    )


@dataclass(frozen=True)
class Finding:
    kind: str            # 'T' | 'Z' | 'FRAX'
    site: str            # fine site (lumbar_l1_l4, femoral_neck, L3, ...) or 'mof' / 'hip' for FRAX
    model_site: str      # lumbar_spine | total_hip | femur | forearm | other | mof | hip
    label: str           # site as the evidence writes it
    side: str | None
    value: float
    rank: int
    start: int           # character span of the quoted sentence in the normalised text
    end: int
    quote: str


@dataclass
class Result:
    findings: list[Finding] = field(default_factory=list)
    unattributed: int = 0          # score-like numbers with a type but no site (or a site but no type)
    scan_date: date | None = None
    text: str = ""


# ------------------------------------------------------------------------------------------------ helpers
def normalise(text: str) -> str:
    """One spelling for minus signs, dashes and spaces; same length is not kept (spans refer to this text)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub("[\u2212\u2012\u2013\ufe63\uff0d]", "-", text)
    text = text.replace("\u2014", " - ").replace("\u00a0", " ").replace("\u2009", " ").replace("\u202f", " ")
    return text.replace("\u00b2", "2")


def _any(patterns: list[re.Pattern], s: str) -> bool:
    return any(p.search(s) for p in patterns)


def _parse_number(m: re.Match) -> float:
    v = float(m.group("num"))
    sign = (m.group("sign") or "").strip().lower()
    return -v if sign in ("-", "minus", "negative") else v


def _date_from(m: re.Match, order: str) -> date | None:
    try:
        if m.group("iso"):
            return date(int(m.group("iy")), int(m.group("im")), int(m.group("id")))
        if m.group("sl"):
            a, b, y = int(m.group("s1")), int(m.group("s2")), int(m.group("sy"))
            if "." in m.group("sl") or a > 12 or order == "DMY":
                a, b = b, a
            return date(y, a, b)
        if m.group("mdy"):
            return date(int(m.group("my")), MONTHS[m.group("mm")[:3].lower()], int(m.group("md")))
        return date(int(m.group("dy")), MONTHS[m.group("dm")[:3].lower()], int(m.group("dd")))
    except (ValueError, KeyError):
        return None


def scan_date(g: Grammar, text: str) -> date | None:
    """The labelled scan date, else the first date outside excluded (prior, birth, signature) clauses."""
    first = None
    for line in text.splitlines():
        for clause in re.split(r"(?<=[;.])\s+(?=[A-Z])|;", line):
            for m in DATE_RE.finditer(clause):
                before = clause[: m.start()]
                if _any(g.date_exclude, before):
                    continue
                d = _date_from(m, g.slash_order)
                if d is None:
                    continue
                if _any(g.date_labels, before[-40:]):
                    return d
                first = first or d
    return first


@dataclass
class _Tok:
    start: int
    end: int
    site: Site
    fine: str
    side: str | None


def _side(g: Grammar, before: str, after: str) -> str | None:
    b = before[-8:]
    a = after[:8]
    for side, pats in (("left", g.left), ("right", g.right)):
        for p in pats:
            for m in p.finditer(b):
                if not b[m.end():].strip(" ,(-"):
                    return side
            m = p.search(a)
            if m and not a[: m.start()].strip(" ,(-"):
                return side
    return None


def site_tokens(g: Grammar, s: str) -> list[_Tok]:
    """Non-overlapping site mentions, longest first; a lumbar word absorbs a following vertebra range."""
    cands = []
    for order, site in enumerate(g.sites):
        for p in site.patterns:
            for m in p.finditer(s):
                fine = f"L{m.group(1)}" if site.numbered else site.id
                cands.append((m.start(), m.end(), order, site, fine))
    cands.sort(key=lambda c: (-(c[1] - c[0]), c[2], c[0]))
    taken: list[tuple[int, int, Site, str]] = []
    for st, en, _o, site, fine in cands:
        if all(en <= a or st >= b for a, b, _s, _f in taken):
            taken.append((st, en, site, fine))
    taken.sort(key=lambda t: t[0])
    merged: list[tuple[int, int, Site, str]] = []
    for st, en, site, fine in taken:
        if merged and site.id in merged[-1][2].absorbs and not s[merged[-1][1]:st].strip(" ,(:"):
            pst = merged[-1][0]
            merged[-1] = (pst, en, site, fine)
            continue
        merged.append((st, en, site, fine))
    out = []
    for st, en, site, fine in merged:
        side = _side(g, s[:st], s[en:])
        out.append(_Tok(st, en, site, fine, side))
    return out


def _clean_quote(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()[:300]


# ------------------------------------------------------------------------------------------------ tables
def _cells(line: str, sep: str) -> list[str]:
    line = line.strip().strip("|")
    if sep == "|":
        return [c.strip() for c in line.split("|")]
    if sep == "\t":
        return [c.strip() for c in line.split("\t")]
    return [c.strip() for c in re.split(r"\s{2,}", line.strip())]


def _header(g: Grammar, line: str) -> tuple[str, int | None, int | None, int] | None:
    if not (_any(g.t, line) or _any(g.z, line)):
        return None
    sep = "|" if "|" in line else "\t" if "\t" in line else "  "
    cells = _cells(line, sep)
    if len(cells) < 2:
        return None
    ti = next((i for i, c in enumerate(cells) if _any(g.t, c)), None)
    zi = next((i for i, c in enumerate(cells) if _any(g.z, c)), None)
    # a header names its columns: labels only, no number in any cell (a bullet "Neck:  T-score -2.1" is no header)
    if any(g.number.search(c) for c in cells):
        return None
    return sep, ti, zi, len(cells)


def _cell_side(g: Grammar, cell: str) -> str | None:
    masked = re.sub(r"\bL\s*\d", "##", cell)
    sides = {name for name, pats in (("left", g.left), ("right", g.right)) if _any(pats, masked)}
    return sides.pop() if len(sides) == 1 else None


def _cell_value(g: Grammar, cell: str) -> float | None:
    c = cell.strip()
    m = g.number.match(c)
    # the number, optionally 'SD' or a note in words / brackets ("-2.6 (osteoporosis)"), never a unit or '%'
    rest = c[m.end():] if m else ""
    if not m or re.match(r"\s*(?:g|gm|mg|cm|kg)\b", rest, re.I) or not re.fullmatch(
            r"\s*(?:SD\b)?\s*(?:\([^)%]*\)|[A-Za-z ,*]*)?", rest, re.I):
        return None
    v = _parse_number(m)
    return v if g.vmin <= v <= g.vmax else None


def _section(g: Grammar, lines: list[str]) -> tuple[str | None, str | None, bool]:
    """Site family, side and 'historical' of the heading lines above a table."""
    fam = side = None
    hist = False
    for ln in lines:
        for sid, pats in g.section_site.items():
            if _any(pats, ln):
                fam = sid
        sd = None
        for name, pats in (("left", g.left), ("right", g.right)):
            if any(p.search(ln) for p in pats[:2]):
                sd = name
        side = sd or side
        hist = hist or _any(g.historical, ln)
    return fam, side, hist


def read_tables(g: Grammar, text: str, res: Result) -> set[int]:
    """Read vendor tables; returns the line numbers consumed (the sentence reader skips them)."""
    lines = text.splitlines()
    offsets = []
    pos = 0
    for ln in lines:
        offsets.append(pos)
        pos += len(ln) + 1
    used: set[int] = set()
    i = 0
    last_block = 0
    while i < len(lines):
        h = _header(g, lines[i])
        if not h:
            if not lines[i].strip():
                last_block = i
            i += 1
            continue
        sep, ti, zi, ncol = h
        heading = [ln for ln in lines[max(last_block, i - 3):i] if ln.strip()]
        fam, sec_side, hist = _section(g, heading)
        used.add(i)
        last_family = None
        j = i + 1
        while j < len(lines) and lines[j].strip():
            cells = _cells(lines[j], sep)
            if len(cells) < 2 or _header(g, lines[j]):
                break
            used.add(j)
            if len(cells) != ncol:  # align numeric cells from the right
                cells = [cells[0]] + [""] * (ncol - len(cells)) + cells[1:] if len(cells) < ncol else cells
            region = cells[0]
            toks = site_tokens(g, region)
            family = fam or last_family
            if g.total_row.search(region) and family and not toks:
                site = g.site(family)
                fine, side = site.id, toks[0].side if toks else None
            elif toks:
                site, fine, side = toks[0].site, toks[0].fine, toks[0].side
            else:
                j += 1
                continue
            side = side or _cell_side(g, region)
            last_family = {"lumbar_spine": "lumbar_l1_l4", "femur": "total_hip", "total_hip": "total_hip",
                           "forearm": "forearm"}.get(site.model, "lumbar_l1_l4" if fine.startswith("L") else
                                                     "total_hip" if site.model == "other" else None)
            side = side or (sec_side if site.model in ("total_hip", "femur", "other", "forearm")
                            and not fine.startswith("L") and not fine.startswith("lumbar") else None)
            if not hist:
                for kind, idx in (("T", ti), ("Z", zi)):
                    if idx is None or idx >= len(cells):
                        continue
                    v = _cell_value(g, cells[idx])
                    if v is not None:
                        st = offsets[j]
                        # the row with its header, so the quote shows which column the number is in
                        res.findings.append(Finding(kind, fine, site.model, site.label if fine == site.id
                                                    else fine, side, v, site.rank, st, st + len(lines[j]),
                                                    _clean_quote(lines[i] + " / " + lines[j])))
            j += 1
        i = j
        last_block = j
    return used


# ------------------------------------------------------------------------------------------------ sentences
_SENT = re.compile(r"[^.;!?\n]*(?:\.(?=\d)[^.;!?\n]*)*[.;!?]?")


def _sentences(line: str) -> list[tuple[int, int]]:
    """Spans of sentences in a line: '.' ends one only before a capital or the line end (not "fem. neck", "2.7")."""
    out = []
    pos = 0
    for m in re.finditer(r"\.(?=\s+[A-Z\"(\[]|\s*$)|[!?](?=\s|$)", line):
        out.append((pos, m.end()))
        pos = m.end()
    if pos < len(line):
        out.append((pos, len(line)))
    return [(a, b) for a, b in out if line[a:b].strip()]


def _read_frax(g: Grammar, s: str, base: int, res: Result) -> None:
    if not _any(g.frax_sentence, s) or _any(g.frax_threshold, s):
        return
    labels = []
    for kind, pats in (("mof", g.frax_mof), ("hip", g.frax_hip)):
        for p in pats:
            for m in p.finditer(s):
                if not any(m.start() < b and m.end() > a for a, b, _k in labels):
                    labels.append((m.start(), m.end(), kind))
    used: set[str] = set()
    prev_end = 0
    values = list(g.frax_value.finditer(s))
    for n, m in enumerate(values):
        v = float(m.group("num"))
        back = [(m.start() - b, k) for a, b, k in labels if k not in used and prev_end <= a and b <= m.start()]
        nxt_start = values[n + 1].start() if n + 1 < len(values) else len(s)
        fwd = [(a - m.end(), k) for a, b, k in labels if k not in used and m.end() <= a and b <= nxt_start]
        best = min(back) if back else min(fwd) if fwd else None
        prev_end = m.end()
        if best:
            used.add(best[1])
            res.findings.append(Finding("FRAX", best[1], best[1], "major osteoporotic" if best[1] == "mof"
                                        else "hip", None, v, 1, base, base + len(s), _clean_quote(s)))


def _read_sentence(g: Grammar, s: str, base: int, res: Result) -> None:
    """Scores in one sentence (clauses split by ';' share the type and site context)."""
    _read_frax(g, s, base, res)
    if not (_any(g.t, s) or _any(g.z, s)):
        return
    sites = site_tokens(g, s)
    masked = list(s)
    for t in sites:
        masked[t.start:t.end] = "#" * (t.end - t.start)
    for m in DATE_RE.finditer(s):
        masked[m.start():m.end()] = "#" * (m.end() - m.start())
    masked_s = "".join(masked)
    ctx = []  # (pos, kind) kind in T/Z/other
    for kind, pats in (("T", g.t), ("Z", g.z), ("other", g.other_context)):
        for p in pats:
            for m in p.finditer(masked_s):
                ctx.append((m.start(), m.end(), kind))
    ctx.sort()
    traps = sorted(m.start() for p in g.scope_traps for m in p.finditer(s))
    clause_ends = [m.start() for m in re.finditer(r";|,\s*(?:but|whereas|while|however)\b", s)] + [len(s)]
    reference_clauses = []
    start = 0
    for end in clause_ends:
        if _any(g.reference, s[start:end]):
            reference_clauses.append((start, end))
        start = end
    prev_end = 0
    prev_site: _Tok | None = None
    prev_kind = None
    for m in g.number.finditer(masked_s):
        vst, ven = m.start(), m.end()
        ctx_before = [c for c in ctx if c[1] <= vst]
        if not ctx_before or ctx_before[-1][2] == "other":
            continue
        kind = ctx_before[-1][2]
        after, before = s[ven:], s[:vst]
        if _any(g.unit_after, after) or _any(g.threshold_before, before[-30:]) or _any(g.threshold_after, after[:30]):
            continue
        clause_start = max([0] + [e + 1 for e in clause_ends if e < vst])
        if any(clause_start <= t < vst for t in traps):
            continue
        if any(a <= vst < b for a, b in reference_clauses):
            continue
        v = _parse_number(m)
        if not g.vmin <= v <= g.vmax:
            continue
        # site: "-2.7 at the left femoral neck" > nearest site since the previous score > carried > first after
        tok = None
        nxt = next((t for t in sites if t.start >= ven), None)
        if nxt and re.fullmatch(r"[\s,()]*(?:SD\b)?[\s,()]*(?:at|in|of|for|over)\s+(?:the\s+)?"
                                r"(?:(?:left|right|lt|rt)\s+)?", s[ven:nxt.start], re.I):
            tok = nxt
        if tok is None:
            back = [t for t in sites if prev_end <= t.start and t.end <= vst]
            if back:
                tok = back[-1]
        if tok is None and prev_site is not None and prev_kind != kind:
            tok = prev_site
        if tok is None and not any(t.end <= vst for t in sites):
            tok = nxt
        if tok is None:
            res.unattributed += 1
            continue
        prev_end, prev_site, prev_kind = ven, tok, kind
        res.findings.append(Finding(kind, tok.fine, tok.site.model, tok.site.label if tok.fine == tok.site.id
                                    else tok.fine, tok.side, v, tok.site.rank, base, base + len(s),
                                    _clean_quote(s)))


# A wrapped line: the next starts in lower case; or this one has not ended a sentence and the next starts with a
# number, 'SD' or a score word, or this one ends on a word no sentence ends with. Never before a bullet.
_CONTINUES = re.compile(r"^\s*(?:[a-z(]|[-+]?\d|SD\b|[TZ]\s*-?\s*scores?\b)")
_BULLET = re.compile(r"^\s*(?:[-*\u2022o]\s|\d+[.)]\s)")
_DANGLING = re.compile(r"\b(?:of|the|a|an|and|at|to|with|in|is|was|are|were|by|for|from|score|scores|left|right|"
                       r"measures|measured|corresponds|demonstrates|shows)\s*$", re.I)


def _paragraphs(norm: str, used: set[int]) -> list[tuple[int, str]]:
    """Non-table lines, wrapped lines joined ("...a T-score of" / "-2.6 at the hip."). Newlines become spaces, so
    offsets into the normalised text stay valid."""
    lines = norm.split("\n")
    out: list[tuple[int, str]] = []
    pos = 0
    cur_start, cur = None, ""
    for n, line in enumerate(lines):
        if n in used or not line.strip():
            if cur_start is not None:
                out.append((cur_start, cur))
            cur_start, cur = None, ""
        elif cur_start is not None and not _BULLET.match(line) and (
                re.match(r"\s*[a-z]", line)
                or (not re.search(r"[.;!?]\s*$", cur) and (_CONTINUES.match(line) or _DANGLING.search(cur)))):
            cur += " " + line
        else:
            if cur_start is not None:
                out.append((cur_start, cur))
            cur_start, cur = pos, line
        pos += len(line) + 1
    if cur_start is not None:
        out.append((cur_start, cur))
    return out


def extract(text: str, grammar: Grammar | None = None) -> Result:
    """Every T/Z score, FRAX probability and the scan date written in one report text."""
    g = grammar or load_grammar()
    norm = normalise(text or "")
    res = Result(text=norm)
    res.scan_date = scan_date(g, norm)
    used = read_tables(g, norm, res)
    for start, para in _paragraphs(norm, used):
        for a, b in _sentences(para):
            _read_sentence(g, para[a:b], start + a, res)
    seen = set()
    uniq = []
    for f in res.findings:
        key = (f.kind, f.site, f.side, f.value)
        if key not in seen:
            seen.add(key)
            uniq.append(f)
    res.findings = uniq
    return res
