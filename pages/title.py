"""Title slide of presentation mode: the company, the period under review and the agenda (the five stages)."""

from __future__ import annotations

import streamlit as st

from lifecycle import metrics as lm
from lifecycle import session as ses
from lifecycle.display import escape_markdown
from lifecycle.views import quarter_label as month_in_quarter
from pages import _present as present
from pages import _ui as ui

ctx = ui.context()
# The company is typed in the sidebar (presentation mode); without it the slide names the data source.
company = (st.session_state.get(present.COMPANY) or "").strip() or ctx.built.status.source_label()

st.markdown(
    "<div style='margin-top:3vh;color:#5f6368;font-size:1.3rem;letter-spacing:.08em;text-transform:uppercase'>"
    "Lifecycle review</div>",
    unsafe_allow_html=True,  # constant text
)
st.title(escape_markdown(company), anchor=False)
if ui.no_data(ctx):
    st.stop()
st.markdown(f"### {month_in_quarter(ctx.month)} · {ses.month_label(ctx.month)}")
st.caption(f"{escape_markdown(ctx.channel or 'All channels')} · data {ctx.built.status.range_label()}")
st.divider()
# The agenda: one block per stage in its colour, with the question it answers.
for column, stage in zip(st.columns(len(lm.STAGES)), lm.STAGES, strict=True):
    with column:
        st.markdown(
            f"<div style='border-top:6px solid {lm.STAGE_COLORS[stage]};padding-top:10px'>"
            f"<div style='font-size:1.4rem;font-weight:600'>{lm.STAGE_LABELS[stage]}</div>"
            f"<div style='color:#3c4043;font-size:1.05rem;margin-top:4px'>{lm.STAGE_QUESTIONS[stage]}</div>"
            "</div>",
            unsafe_allow_html=True,  # catalog constants only
        )
