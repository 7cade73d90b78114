"""Text from uploads (channel and campaign names, NPS comments) is shown as text: never as Markdown, HTML or
script, on any page; and nothing of it reaches an unsafe-HTML call."""

from __future__ import annotations

import re

import pytest
from conftest import open_page, upload
from streamlit.testing.v1 import AppTest

HOSTILE_CHANNEL = "**Bold** [click](http://evil.example) <img src=x onerror=alert(1)>"
HOSTILE_COMMENT = "<script>alert('nps')</script> _great_ [phish](http://evil.example)"
LEADS = (
    "Lead ID,Create Date,Original Source,Email\n"
    f'H1,2026-09-02,"{HOSTILE_CHANNEL}",h1@x.example\n'
    f'H2,2026-10-05,"{HOSTILE_CHANNEL}",h2@x.example\n'
).encode()
NPS = (
    "Respondent ID,End Date,How likely are you to recommend us to a friend or colleague?,Comment\n"
    f'R1,2026-10-03,3,"{HOSTILE_COMMENT}"\n'
    "R2,2026-10-04,10,fine\n"
).encode()
# A Markdown link or emphasis built from the hostile text would appear unescaped in an element's source.
UNESCAPED = re.compile(r"(?<!\\)\[click\]\(|(?<!\\)\*\*Bold(?<!\\)\*\*|(?<!\\)\[phish\]\(|(?<!\\)_great(?<!\\)_")


def markdown_sources(at: AppTest) -> list[str]:
    sources = []
    for kind in ("markdown", "caption", "title", "header", "subheader", "info", "warning", "error", "success"):
        sources += [str(e.value) for e in at.get(kind)]
    return sources


@pytest.mark.parametrize("page", ["overview", "attract", "capture", "nurture", "convert", "expand", "data"])
def test_uploaded_text_never_renders_as_markdown_or_html(app_test: AppTest, page: str) -> None:
    at = upload(app_test, ("hostile-leads.csv", LEADS), ("hostile-nps.csv", NPS))
    assert HOSTILE_CHANNEL in at.selectbox(key="channel").options  # the hostile text really is in the data
    at = open_page(at, page)
    assert not at.exception
    for source in markdown_sources(at):
        assert not UNESCAPED.search(source), source
        # Raw HTML from the data only matters where the app allows HTML; it never puts data there.
        assert "<img src=x" not in source or "\\<img" in source or "&lt;img" in source, source


def test_unsafe_html_calls_hold_constants_only() -> None:
    """Every `unsafe_allow_html=True` in the app is annotated as constant content; none formats data text."""
    from conftest import APP

    for path in [APP, *sorted((APP.parent / "pages").glob("*.py"))]:
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            if "unsafe_allow_html=True" in line:
                assert "#" in line, f"{path.name}:{number}: unsafe HTML without a note saying what goes in"
                note = line.split("#", 1)[1].lower()
                assert any(w in note for w in ("constant", "numbers only", "catalog")), f"{path.name}:{number}"
