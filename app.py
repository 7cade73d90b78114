"""Lifecycle Explorer: the page router and the shared sidebar (data status, month, channel, comparison).

The selection lives in the URL query parameters (`?month=Aug+2026&channel=Email&compare=...`), so a link
reproduces the view and a reload keeps it. Run with `python -m streamlit run app.py`.
"""

from __future__ import annotations

import streamlit as st

from lifecycle import session as ses
from pages import _drill as drill
from pages import _present as present
from pages import _ui as ui

st.set_page_config(page_title="Lifecycle Explorer", page_icon=":material/insights:", layout="wide")


def selection_widgets(data: ui.Built) -> ses.Selection:
    """Month, channel and comparison pickers bound to the URL query parameters `month`, `channel` and
    `compare`: Streamlit keeps them in the URL across pages and leaves a value out while it is the default."""
    months = list(reversed(data.months))
    default = months.index(data.default_month) if data.default_month in months else 0
    if months and "month" in st.session_state and st.session_state["month"] not in months:
        # New data (an upload, a reset) whose months do not include the one picked before: its default month.
        st.session_state["month"] = months[default]
        default = 0  # the state now holds the value; a second default would only draw Streamlit's warning
    month = st.selectbox(
        "Month", months, index=default, key="month", bind="query-params", format_func=ses.month_label,
        disabled=not months, help="Default: the last complete month in the data.",
    )  # fmt: skip
    channel = st.selectbox(
        "Channel",
        [ses.ALL_CHANNELS, *data.channels],
        key="channel",
        bind="query-params",
        disabled=not data.channels,
    )
    compare = st.radio(
        "Compare with",
        list(ses.COMPARISONS),
        key="compare",
        bind="query-params",
        format_func=ses.COMPARISONS.get,
    )
    return ses.Selection(month, None if channel in (None, ses.ALL_CHANNELS) else channel, compare or "mom")


def data_status(data: ui.Built) -> None:
    """Which data is loaded: source, date range and the tables present with their rows."""
    status = data.status
    st.markdown(f"**{status.source_label()}**")  # our own words: no upload text
    if status.empty:
        st.caption("No tables loaded.")
    else:
        st.caption(f"{status.range_label()} · {len(status.rows)} table{'s' if len(status.rows) != 1 else ''}")
        st.caption(" · ".join(f"{name} {rows:,}" for name, rows in status.rows.items()))
    if data.errors:
        st.caption(f":red[{len(data.errors)} file(s) could not be read — see the Data page]")


with st.sidebar:
    head = st.container()  # filled below: the toggle has to be read before the router is set up
    presenting = present.toggle()
# Presentation mode walks its fixed sequence with Previous / Next: the page menu would only distract.
navigation = st.navigation(ui.pages(), position="hidden" if presenting else "sidebar")
data = ui.built()
with head:
    st.subheader("Lifecycle Explorer")
    if not presenting:
        data_status(data)
    st.divider()
    selection = selection_widgets(data)
    if presenting:
        present.company_input(data.status.source_label())
context = ui.Context(data, selection)
ui.set_context(context)
if presenting:
    present.styles()
    present.nav_bar(navigation.title)
navigation.run()
drill.show_drill(context)
