"""Presentation mode: for sharing the screen in a quarterly review.

A sidebar toggle kept in the URL (`?present=true`) hides the upload and mapping controls, enlarges cards and
text for a 1280×720 shared screen, and walks a fixed sequence — a title slide, the Overview, then the five
stages — with Previous / Next buttons (and the ← → keys).
"""

from __future__ import annotations

import streamlit as st

PRESENT = "present"
COMPANY = "company"

TITLE_PAGE = "pages/title.py"
SLIDES: tuple[tuple[str, str], ...] = (
    ("Quarterly review", TITLE_PAGE),
    ("Overview", "pages/overview.py"),
    ("Attract", "pages/attract.py"),
    ("Capture", "pages/capture.py"),
    ("Nurture", "pages/nurture.py"),
    ("Convert", "pages/convert.py"),
    ("Expand", "pages/expand.py"),
)
"""The slides in order: (page title as in the router, page file)."""

# Streamlit's own test ids: the only handles its elements offer to a stylesheet.
_CSS = """
<style>
[data-testid="stMainBlockContainer"]{padding-top:4rem;padding-bottom:3rem;max-width:1320px}
[data-testid="stMain"] p,[data-testid="stMain"] li{font-size:1.12rem}
[data-testid="stMain"] h1{font-size:2.5rem}
[data-testid="stMain"] h3{font-size:1.6rem}
[data-testid="stMain"] [data-testid="stCaptionContainer"] p{font-size:1.02rem}
[data-testid="stMetric"]{padding:0.9rem 1rem}
[data-testid="stMetricLabel"] p{font-size:1.05rem;font-weight:600}
[data-testid="stMetricLabel"],[data-testid="stMetricLabel"] div{min-width:0;max-width:100%;height:auto}
[data-testid="stMetricLabel"] div,[data-testid="stMetricLabel"] p{white-space:normal !important}
[data-testid="stMetricValue"],[data-testid="stMetricValue"] p,[data-testid="stMetricValue"] div{
  font-size:2.5rem;line-height:1.15;font-weight:600}
[data-testid="stMetricDelta"] p,[data-testid="stMetricDelta"] div{font-size:1.05rem}
[data-testid="stAppDeployButton"]{display:none}
</style>
"""


def active() -> bool:
    """Whether presentation mode is on in this session (the sidebar toggle, read from the URL on load)."""
    return bool(st.session_state.get(PRESENT, False))


def toggle() -> bool:
    """The sidebar toggle, bound to the `present` query parameter so a shared link opens in presentation mode."""
    return st.toggle(
        "Presentation mode",
        key=PRESENT,
        bind="query-params",
        help="For a shared screen: larger cards and text, no upload or mapping controls, and a fixed "
        "sequence from a title slide through the five stages with Previous / Next (or the ← → keys).",
    )


def company_input(default: str) -> str:
    """The company named on the title slide (kept in the URL)."""
    value = st.text_input("Company on the title slide", key=COMPANY, bind="query-params", placeholder=default)
    return (value or "").strip() or default


def styles() -> None:
    """Larger text and cards: readable from the back of a meeting room on a 1280×720 screen."""
    st.html(_CSS)  # a constant stylesheet: nothing from the uploads


def slide_index(title: str) -> int | None:
    """The position of the page titled `title` in the sequence (None when it is not a slide)."""
    titles = [t for t, _ in SLIDES]
    return titles.index(title) if title in titles else None


def nav_bar(title: str) -> None:
    """Previous / Next buttons around 'n of N · page' at the top of a slide (nothing on other pages)."""
    index = slide_index(title)
    if index is None:
        st.caption("This page is not part of the presentation sequence.")
        if st.button("Back to the title slide", icon=":material/slideshow:", key="present-home"):
            st.switch_page(TITLE_PAGE, query_params={})
        return
    previous, following = (
        (SLIDES[index - 1] if index > 0 else None),
        (SLIDES[index + 1] if index + 1 < len(SLIDES) else None),
    )
    row = st.columns([1, 2, 1], vertical_alignment="center")
    with row[0]:
        if (
            st.button(
                f"Previous: {previous[0]}" if previous else "Previous",
                key="present-previous",
                icon=":material/arrow_back:",
                disabled=previous is None,
                shortcut="left",
            )
            and previous
        ):
            st.switch_page(previous[1], query_params={})  # bound widgets write theirs back
    row[1].markdown(
        f"<div style='text-align:center;color:#5f6368;font-size:1rem;margin-bottom:1rem'>"
        f"{index + 1} of {len(SLIDES)}</div>",
        unsafe_allow_html=True,  # numbers only
    )
    with row[2], st.container(horizontal=True, horizontal_alignment="right"):
        if (
            st.button(
                f"Next: {following[0]}" if following else "Next",
                key="present-next",
                icon=":material/arrow_forward:",
                icon_position="right",
                type="primary",
                disabled=following is None,
                shortcut="right",
            )
            and following
        ):
            st.switch_page(following[1], query_params={})
