"""Report text from FHIR attachments: base64 decoding and HTML / RTF / PDF to plain text.

Why Python: a DXA report is one of few documents per patient and needs a real HTML parser, an RTF control-word
stripper and a PDF library; DuckDB has none of them. Called per report text from a DuckDB UDF (udf.py).
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import re
from html.parser import HTMLParser

# status values: read | empty | bad_base64 | too_large | pdf_unreadable | unsupported_type | no_content
READ = "read"


class _HtmlText(HTMLParser):
    """HTML -> text keeping the structure the extractor needs: blocks on their own line, cells split by ' | '."""

    BLOCK = {"p", "br", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "pre", "hr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in ("script", "style", "head", "title"):
            self.skip += 1
        elif tag == "table":
            self.parts.append("\n\x00\n")
        elif tag in self.BLOCK:
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head", "title"):
            self.skip = max(0, self.skip - 1)
        elif tag in ("td", "th"):
            self.parts.append(" | ")
        elif tag == "table":
            self.parts.append("\n\x00\n")
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    p = _HtmlText()
    p.feed(html)
    p.close()
    lines = []
    for line in "".join(p.parts).splitlines():
        line = re.sub(r"[ \t\u00a0]+", " ", line).strip()
        line = re.sub(r"\s*\|\s*$", "", line)  # trailing cell separator
        if line:
            lines.append("" if line == "\x00" else line)  # blank lines only around tables
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


_RTF_DEST = re.compile(r"\{\\(?:\*\\)?(?:fonttbl|colortbl|stylesheet|info|pict|header|footer|generator)"
                       r"(?:[^{}]|\{[^{}]*\})*\}")
_RTF_TOKEN = re.compile(r"\\u(-?\d+)\??|\\'([0-9a-fA-F]{2})|\\([a-zA-Z]+)(-?\d+)? ?|\\([\\{}])|([{}])|\r?\n")


def rtf_to_text(rtf: str) -> str:
    """Plain text of an RTF document: paragraphs, tabs and table cells kept; other control words dropped."""
    body = _RTF_DEST.sub("", rtf)

    def repl(m: re.Match) -> str:
        uni, hexbyte, word, _arg, escaped, brace = m.groups()
        if uni is not None:
            n = int(uni)
            return chr(n + 65536 if n < 0 else n)
        if hexbyte is not None:
            return bytes([int(hexbyte, 16)]).decode("cp1252", errors="replace")
        if word is not None:
            return {"par": "\n", "line": "\n", "row": "\n", "tab": "\t", "cell": " | ", "emdash": "\u2014",
                    "endash": "\u2013", "bullet": "\u2022"}.get(word, "")
        if escaped is not None:
            return escaped
        return ""  # braces and raw newlines (RTF ignores them)

    text = _RTF_TOKEN.sub(repl, body)
    return "\n".join(line.strip() for line in text.splitlines()).strip()


def pdf_to_text(data: bytes) -> str | None:
    """Text layer of a PDF with pypdf (pure Python, BSD); None when it has none or cannot be parsed."""
    from pypdf import PdfReader

    pdf_log = logging.getLogger("pypdf")
    level = pdf_log.level
    pdf_log.setLevel(logging.ERROR)  # its warnings about malformed files are noise in run logs
    try:
        reader = PdfReader(io.BytesIO(data))
        text = "\n".join((page.extract_text() or "") for page in reader.pages)
    except Exception:  # noqa: BLE001 - any malformed PDF is "unreadable", never a crash of the run
        return None
    finally:
        pdf_log.setLevel(level)
    return text if text.strip() else None


def _kind(content_type: str | None) -> str:
    ct = (content_type or "text/plain").split(";")[0].strip().lower()
    if ct in ("text/html", "application/xhtml+xml"):
        return "html"
    if ct in ("text/rtf", "application/rtf"):
        return "rtf"
    if ct == "application/pdf":
        return "pdf"
    if ct.startswith("text/") or ct in ("application/xml", "application/json"):
        return "plain"
    return "unsupported"


def report_text(content_type: str | None, text: str | None, data_b64: str | None,
                limit_bytes: int) -> tuple[str, str | None]:
    """(status, plain text) of one text source: inline text (conclusion) or base64 attachment data."""
    kind = _kind(content_type)
    if text is None:
        if data_b64 is None:
            return "no_content", None
        if len(data_b64) * 3 // 4 > limit_bytes:
            return "too_large", None
        try:
            raw = base64.b64decode(re.sub(r"\s+", "", data_b64), validate=True)
        except (binascii.Error, ValueError):
            return "bad_base64", None
        if kind == "pdf" or raw[:5] == b"%PDF-":
            out = pdf_to_text(raw)
            return (READ, out) if out else ("pdf_unreadable", None)
        if kind == "unsupported":
            return "unsupported_type", None
        text = raw.decode("utf-8", errors="replace")
        if text.startswith("\ufeff"):
            text = text[1:]
    if kind == "unsupported":
        return "unsupported_type", None
    if kind == "html" or (kind == "plain" and re.match(r"\s*<(?:!doctype|html|div|p|table)\b", text, re.I)):
        text = html_to_text(text)
    elif kind == "rtf" or text.lstrip().startswith("{\\rtf"):
        text = rtf_to_text(text)
    return (READ, text) if text.strip() else ("empty", None)
