"""Definitions: the metric catalog as a searchable glossary (definition, unit, stage, kind, tables needed)."""

from __future__ import annotations

import streamlit as st

from lifecycle import metrics as lm
from lifecycle.display import escape_markdown, glossary
from pages import _ui as ui

st.title("Definitions")
st.caption(
    "Every number in the app, defined once. *Activity* metrics measure what marketing did (sends, sessions, "
    "spend); *outcome* metrics what it produced (MQLs, customers, bookings, churn)."
)

search, stage_col, kind_col = st.columns([2, 2, 1])
query = search.text_input("Search", placeholder="e.g. churn, spend, open rate", key="glossary-search")
stages = stage_col.multiselect(
    "Stages", list(lm.STAGES), format_func=lm.STAGE_LABELS.get, key="glossary-stages"
)
kinds = kind_col.multiselect("Kind", ["activity", "outcome"], key="glossary-kinds")

entries = glossary(query or "", stages, kinds)
if entries.empty:
    st.info("No metric matches this search.")
    st.stop()
st.caption(f"{len(entries)} of {len(lm.CATALOG)} metrics")

for stage_label, group in entries.groupby("stage", sort=False):
    stage = next(s for s in lm.STAGES if lm.STAGE_LABELS[s] == stage_label)
    st.markdown(
        f"<h3 style='border-left:5px solid {lm.STAGE_COLORS[stage]};padding-left:10px'>{lm.STAGE_LABELS[stage]}</h3>",
        unsafe_allow_html=True,  # constant stage name and colour only
    )
    for entry in group.to_dict("records"):  # a few dozen catalog entries
        name, text = st.columns([1, 3])
        name.markdown("**" + escape_markdown(entry["metric"]) + "**  \n`" + entry["id"] + "`")
        facts = " · ".join([entry["kind"], entry["unit"], entry["good when"] + " is better"])
        lines = [escape_markdown(entry["definition"]), f":gray[{escape_markdown(facts)}]"]
        if entry["note"]:
            lines.append(f":gray[{escape_markdown(entry['note'])}]")
        lines.append(":gray[Needs " + escape_markdown(entry["needs"]) + "]")
        text.markdown("  \n".join(lines))

with st.expander("The glossary as a table"):
    ui.table(entries, "metric definitions", key="glossary")
