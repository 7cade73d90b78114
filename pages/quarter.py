"""Quarter: the quarterly review — key metrics per month of a quarter, the quarter against the previous quarter
and the same quarter last year, pacing of a quarter still running, its early warnings, and the report."""

from __future__ import annotations

import streamlit as st

from lifecycle import metrics as lm
from lifecycle.display import escape_markdown
from lifecycle.quarter import default_quarter, quarter_label, quarter_view, reportable_quarters
from lifecycle.report import build_report_html, build_report_xlsx
from lifecycle.views import quarter_cards, quarter_table, quarter_warnings
from pages import _ui as ui

KEY_IDS = list(lm.KEY_METRICS.values())
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@st.cache_data(max_entries=8, show_spinner=False)
def report_html(key: str, quarter: str, channel: str | None, _ctx: ui.Context) -> str:
    """The HTML report, cached on the data's content key, the quarter and the channel."""
    return build_report_html(_ctx.facts, quarter, channel, _ctx.settings)


@st.cache_data(max_entries=8, show_spinner=False)
def report_xlsx(key: str, quarter: str, channel: str | None, _ctx: ui.Context) -> bytes:
    """The report's numbers as an Excel workbook, cached like the HTML report."""
    return build_report_xlsx(_ctx.facts, quarter, channel, _ctx.settings)


def downloads(ctx: ui.Context, quarter: str) -> None:
    """Build the report on request (it takes a few seconds), then offer the HTML file and the workbook."""
    cache_key = f"{ctx.built.key}:{ctx.settings!r}"
    requested = st.session_state.get("_report_request") == (cache_key, quarter, ctx.channel)
    stem = f"lifecycle-review-{quarter}" + (f"-{ctx.channel}" if ctx.channel else "")
    stem = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in stem)
    if not requested:
        if st.button("Prepare the report", icon=":material/description:", key="report-prepare",
                     help="The HTML report (charts included, opens offline) and the Excel workbook of its numbers."):  # fmt: skip
            st.session_state["_report_request"] = (cache_key, quarter, ctx.channel)
            st.rerun()
        return
    with st.spinner("Building the report…"):
        html = report_html(cache_key, quarter, ctx.channel, ctx)
        xlsx = report_xlsx(cache_key, quarter, ctx.channel, ctx)
    row = st.container(horizontal=True)
    row.download_button(
        "Download the HTML report", html.encode("utf-8"), file_name=f"{stem}.html", mime="text/html",
        key="report-html", on_click="ignore", icon=":material/download:", type="primary",
    )  # fmt: skip
    row.download_button(
        "Download the Excel workbook", xlsx, file_name=f"{stem}.xlsx", mime=XLSX_MIME,
        key="report-xlsx", on_click="ignore", icon=":material/table_view:",
    )  # fmt: skip


ctx = ui.context()
st.title("Quarter")
if ui.no_data(ctx):
    st.stop()
quarters = list(reversed(reportable_quarters(ctx.facts)))
if not quarters:
    st.info("No quarter has a complete month in the data yet.")
    st.stop()
default = quarters.index(default_quarter(ctx.facts)) if default_quarter(ctx.facts) in quarters else 0
if st.session_state.get("quarter") not in (None, *quarters):
    # New data without the quarter picked before: its default quarter.
    st.session_state["quarter"] = quarters[default]
    default = 0  # the state holds the value now; a second default would only draw Streamlit's warning
quarter = st.selectbox(
    "Quarter", quarters, index=default, key="quarter", bind="query-params",
    format_func=quarter_label, help="Default: the quarter of the last complete month in the data.",
)  # fmt: skip
# The whole catalog (the warnings cover every metric), computed once per dataset, quarter and channel.
view = ui.shared(
    ctx,
    ("quarter_view", quarter, ctx.channel),
    lambda: quarter_view(ctx.facts, quarter, ctx.channel, ctx.settings),
)
if not view.available:
    ui.unavailable(view.reason, f"{quarter_label(quarter)}")
    st.stop()
st.caption(
    f"{quarter_label(quarter)} · {escape_markdown(ctx.channel or 'all channels')} · "
    + ("complete" if view.complete else f"{len(view.reported)} of 3 months complete")
)
ui.notes(view.notes)

columns = st.columns(len(lm.STAGES))
for column, stage, card in zip(columns, lm.STAGES, quarter_cards(view, KEY_IDS), strict=True):
    with column:
        st.markdown(
            f"<div style='height:4px;background:{lm.STAGE_COLORS[stage]};border-radius:2px'></div>",
            unsafe_allow_html=True,  # a constant colour bar
        )
        st.markdown(f"**{lm.STAGE_LABELS[stage]}**")
        ui.card_widget(ctx, card)

st.subheader("Key metrics by month")
st.caption(
    "Counts and amounts add up over the quarter (total); rates, days, scores and cost ratios are averaged. "
    + (
        ""
        if view.complete
        else "A running quarter is shown to date, compared at the same point, and paced to its end."
    )
)
ui.table(quarter_table(view, KEY_IDS).drop(columns="stage"), f"{quarter} key metrics", key="quarter-key")

st.subheader("Early warnings")
warnings = quarter_warnings(view)
if warnings.empty:
    st.success(f"No early warnings in {quarter_label(quarter)}.")
else:
    st.caption(
        "A metric is flagged when it moved the wrong way two months running, or sits well below the median of "
        "its three previous months."
    )
    ui.table(warnings, f"{quarter} early warnings", key="quarter-warnings",
             column_config={"why it fired": st.column_config.TextColumn(width="large")})  # fmt: skip

with st.expander("Every metric of the quarter"):
    ui.table(quarter_table(view, list(lm.CATALOG)), f"{quarter} all metrics", key="quarter-all")

st.subheader("Report")
st.caption("The quarterly review as one HTML file (opens offline, charts included) and its numbers in Excel.")
downloads(ctx, quarter)
