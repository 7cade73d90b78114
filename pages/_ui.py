"""The pages' shared kit: loaded data and selection, memoized results, cards, tables and charts.

Numbers and text come from `lifecycle`; this module only places them on screen. Per-user state lives in
`st.session_state` (the workspace of files, the built tables and facts, the drill-through request); ingest
results and small derived results are cached with `st.cache_data` keyed on the files' content hash.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from lifecycle import metrics as lm
from lifecycle import session as ses
from lifecycle.display import Card, escape_markdown, metric_card
from lifecycle.downloads import to_safe_csv
from lifecycle.ingest import Ingested, IngestError
from lifecycle.mapping import MappingError
from lifecycle.metrics.funnels import Funnel
from lifecycle.metrics.funnels import funnel as build_funnel
from lifecycle.metrics.store import open_facts

WORKSPACE = "workspace"


BUILT = "_built"


CONTEXT = "_context"


DRILL = "_drill"


DATA_PAGE = "pages/data.py"


MEMO_SIZE = 48


SPARK_MONTHS = 12


TREND_MONTHS = 24


# ---------------------------------------------------------------------------------------------- data


@st.cache_data(max_entries=128, show_spinner=False)
def ingest_cached(key: str, _item: ses.LoadedFile) -> list[Ingested]:
    """Ingest results of one file, cached on its content-and-mapping key (never on anything user-global)."""
    return ses.read_file(_item)


@st.cache_data(max_entries=1024, show_spinner=False)
def shared_cached(key: tuple, _compute: Callable[[], Any]) -> Any:
    """A small derived result (a series, a by-channel table) shared by every session holding the same data:
    `key` starts with the workspace content key and names everything the result depends on."""
    return _compute()


@dataclass
class Built:
    """A workspace read and derived once per change: ingest results, tables, facts, months, channels."""

    key: str
    workspace: ses.Workspace
    results: list[list[Ingested]]
    errors: dict[int, str]
    tables: dict[str, pd.DataFrame]
    facts: lm.Facts
    months: list[str]
    default_month: str | None
    channels: list[str]
    status: ses.DataStatus
    memo: dict[Any, Any] = field(default_factory=dict)


def workspace() -> ses.Workspace:
    """This session's workspace (the sample company until the user uploads or resets)."""
    if WORKSPACE not in st.session_state:
        st.session_state[WORKSPACE] = ses.default_workspace()
    return st.session_state[WORKSPACE]


def set_workspace(ws: ses.Workspace) -> None:
    """Replace this session's workspace (the tables are rebuilt on the next run)."""
    st.session_state[WORKSPACE] = ws


def built() -> Built:
    """The current workspace's tables and facts, rebuilt only when its files or mappings changed."""
    ws = workspace()
    current = st.session_state.get(BUILT)
    if current is not None and current.key == ws.key:
        return current
    if ws.folder is not None:
        current = _built_from_folder(ws)
        st.session_state[BUILT] = current
        return current
    results: list[list[Ingested]] = []
    errors: dict[int, str] = {}
    with st.spinner("Reading the exports…"):
        for i, item in enumerate(ws.files):
            try:
                results.append(ingest_cached(item.key, item))
            except (IngestError, MappingError) as exc:
                results.append([])
                errors[i] = str(exc)
        tables = ses.build_tables(results)
        facts = lm.build_facts(tables)
    months = lm.months_in_data(facts)
    current = Built(
        key=ws.key,
        workspace=ws,
        results=results,
        errors=errors,
        tables=tables,
        facts=facts,
        months=months,
        default_month=lm.default_month(facts),
        channels=lm.channels(facts),
        status=ses.data_status(tables, ws.source, len(ws.files)),
    )
    st.session_state[BUILT] = current
    return current


@st.cache_resource(max_entries=1, show_spinner=False)
def opened_folder(key: str, folder: str) -> lm.Facts:
    """The facts of a workspace folder, opened once and shared by every session showing it, with all they
    work out and remember (a million leads' facts hold about a gigabyte once every page was shown: one copy per
    browser tab would not fit a laptop). ``key`` is the workspace's content key, which names its table files:
    a new ingest into the folder opens it again. Facts are only read; what two sessions work out at the same
    time is the same value."""
    return open_facts(folder)


def _built_from_folder(ws: ses.Workspace) -> Built:
    """A workspace folder opened from its saved facts (no table is read when they are current)."""
    errors: dict[int, str] = {}
    try:
        with st.spinner("Opening the workspace…"):
            facts = opened_folder(ws.key, ws.folder)
    except (OSError, ValueError) as exc:  # a missing folder, unreadable Parquet
        errors[0] = f"the workspace folder {ws.folder} could not be opened: {exc}"
        facts = lm.build_facts({})
    months = lm.months_in_data(facts)
    status = ses.folder_status(ws.folder, months)  # a missing folder has no tables: no rows
    return Built(
        ws.key, ws, [], errors, {}, facts, months, lm.default_month(facts), lm.channels(facts), status
    )


@dataclass
class Context:
    """What a page renders from: the built data and the selection of the sidebar."""

    built: Built
    selection: ses.Selection
    settings: lm.Settings = lm.DEFAULT_SETTINGS

    @property
    def facts(self) -> lm.Facts:
        return self.built.facts

    @property
    def month(self) -> str | None:
        return self.selection.month

    @property
    def channel(self) -> str | None:
        return self.selection.channel

    @property
    def compare_month(self) -> str | None:
        """The comparison month when the data covers it (else no deltas are shown)."""
        other = self.selection.compare_month
        return other if other in self.built.months else None

    def scope_label(self) -> str:
        """'Sep 2026 · all channels' for captions."""
        if not self.month:
            return "no month"
        return f"{ses.month_label(self.month)} · {self.channel or 'all channels'}"


def set_context(ctx: Context) -> None:
    """Called by app.py after the sidebar: the context every page of this run reads."""
    st.session_state[CONTEXT] = ctx


def pages() -> dict[str, list]:
    """The app's pages for st.navigation, in menu order."""
    return {
        "Report": [
            st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
            st.Page("pages/attract.py", title="Attract", icon=":material/travel_explore:"),
            st.Page("pages/capture.py", title="Capture", icon=":material/person_add:"),
            st.Page("pages/nurture.py", title="Nurture", icon=":material/forum:"),
            st.Page("pages/convert.py", title="Convert", icon=":material/handshake:"),
            st.Page("pages/expand.py", title="Expand", icon=":material/trending_up:"),
            st.Page("pages/quarter.py", title="Quarter", icon=":material/date_range:"),
            # The title slide of presentation mode: reached through its Previous / Next buttons only.
            st.Page(
                "pages/title.py", title="Quarterly review", icon=":material/slideshow:", visibility="hidden"
            ),
        ],
        "Data": [
            st.Page("pages/data.py", title="Data", icon=":material/upload_file:"),
            st.Page("pages/definitions.py", title="Definitions", icon=":material/menu_book:"),
        ],
    }


def context() -> Context:
    """The context app.py set for this run."""
    if CONTEXT not in st.session_state:
        # A server's first request for a page URL runs the page alone (Streamlit's legacy pages/ folder mode)
        # until st.navigation has been called once; calling it switches the server to the router for good.
        st.navigation(pages())
        st.rerun()
    return st.session_state[CONTEXT]


def memo(ctx: Context, key: tuple, compute: Callable[[], Any]) -> Any:
    """`compute()` memoized per session and dataset (the memo is dropped with the data it came from)."""
    store = ctx.built.memo
    if key not in store:
        if len(store) >= MEMO_SIZE:
            store.pop(next(iter(store)))
        store[key] = compute()
    return store[key]


def shared(ctx: Context, key: tuple, compute: Callable[[], Any]) -> Any:
    """`compute()` cached across sessions on the data's content key (for small results only: a cache hit
    is a copy), and memoized in this session."""
    full = (ctx.built.key, repr(ctx.settings), *key)
    return memo(ctx, ("shared", *key), lambda: shared_cached(full, compute))


def results(ctx: Context, ids: list[str], month: str | None = None) -> dict[str, lm.MetricResult]:
    """The metrics `ids` for `month` (default: the selected one) and the selected channel."""
    month = month or ctx.month
    return memo(
        ctx,
        ("some", month, ctx.channel, tuple(ids)),
        lambda: lm.compute_metrics(ctx.facts, ids, month, ctx.channel, ctx.settings),
    )


def series(
    ctx: Context, metric_id: str, length: int = TREND_MONTHS, channel: str | None | bool = False
) -> pd.DataFrame:
    """The metric over the `length` months of data ending with the selected month."""
    chosen = ctx.channel if channel is False else channel
    months = ses.trailing_months(ctx.built.months, ctx.month, length)
    return shared(
        ctx,
        ("series", metric_id, tuple(months), chosen),
        lambda: lm.metric_series(ctx.facts, metric_id, months, chosen, ctx.settings),
    )


# ---------------------------------------------------------------------------------------------- messages


def no_data(ctx: Context) -> bool:
    """Say so and return True when there is nothing to report on (no dated rows loaded)."""
    if ctx.month is None:
        st.info(
            "No data loaded yet: upload your exports on the Data page, or reset to the sample company there."
        )
        st.page_link(DATA_PAGE, label="Open the Data page", icon=":material/upload_file:")
        return True
    return False


def unavailable(reason: str | None, what: str = "This analysis") -> None:
    """An analysis that cannot be computed: which export would enable it, and a link to the Data page."""
    st.info(f"{what} is not available: {escape_markdown(reason or 'no data for the selection')}.")
    st.page_link(DATA_PAGE, label="Load it on the Data page", icon=":material/upload_file:")


def notes(items: tuple[str, ...] | list[str]) -> None:
    """Caveats of an analysis as captions."""
    for note in items:
        st.caption(escape_markdown(note))


def stage_header(stage: str, ctx: Context) -> None:
    """Page title in the stage colour with the stage's key question and the selection."""
    color = lm.STAGE_COLORS[stage]
    st.markdown(
        f"<div style='border-left:6px solid {color};padding-left:12px;margin-bottom:4px'>"
        f"<h1 style='margin:0;padding:0'>{lm.STAGE_LABELS[stage]}</h1></div>",
        unsafe_allow_html=True,  # constant text and colour only: nothing from the uploads
    )
    st.caption(f"{lm.STAGE_QUESTIONS[stage]} — {escape_markdown(ctx.scope_label())}")


# ---------------------------------------------------------------------------------------------- cards


def cards(ctx: Context, ids: list[str], per_row: int = 4, sparkline: bool = True) -> None:
    """Metric cards for `ids`: value, change against the comparison month, sparkline, drill-through."""
    now = results(ctx, ids)
    before = results(ctx, ids, ctx.compare_month) if ctx.compare_month else {}
    label = ses.COMPARISONS[ctx.selection.compare]
    for start in range(0, len(ids), per_row):
        columns = st.columns(per_row)
        for column, metric_id in zip(columns, ids[start : start + per_row], strict=False):
            trend = series(ctx, metric_id, SPARK_MONTHS) if sparkline else None
            card = metric_card(now[metric_id], before.get(metric_id), trend, label)
            with column:
                card_widget(ctx, card)


def card_widget(ctx: Context, card: Card) -> None:
    """One card: st.metric, then what would enable it (unavailable) or the button to its rows."""
    st.metric(
        card.label,
        card.value,
        card.delta,
        delta_color=card.delta_color,  # type: ignore[arg-type]
        delta_arrow="off" if card.delta_color == "off" else "auto",
        help=card.help,
        border=True,
        chart_data=card.sparkline or None,
        chart_type="line",
    )
    if not card.available:
        st.caption(f"Not available: {escape_markdown(card.reason or '')}")
        st.page_link(DATA_PAGE, label="Load it on the Data page", icon=":material/upload_file:")
        return
    if card.reason:
        st.caption(escape_markdown(card.reason))
    if card.count:
        st.button(
            f"See the {card.count:,} row{'s' if card.count != 1 else ''}",
            key=f"drill-{card.id}",
            on_click=request_drill,
            kwargs={"kind": "metric", "id": card.id, "month": ctx.month, "channel": ctx.channel},
            type="tertiary",
            icon=":material/table_rows:",
        )


# ---------------------------------------------------------------------------------------------- drill


def request_drill(**request: Any) -> None:
    """Callback: show the rows behind a number (opened as a dialog at the end of this run)."""
    st.session_state[DRILL] = request


def drill_from_chart(key: str, to_request: Callable[[dict], dict | None]) -> None:
    """Callback of a clickable chart: the clicked point's rows, via `to_request(point)`."""
    state = st.session_state.get(key)
    points = state.selection.points if state is not None else []
    if points:
        request = to_request(points[0])
        if request:
            st.session_state[DRILL] = request


def funnel(
    ctx: Context,
    mode: str,
    month: str | None = None,
    channel: str | None | bool = False,
    by: str | None = None,
) -> Funnel:
    """The cohort or period funnel of a month (default: the selection), optionally by channel or segment."""
    month = month or ctx.month
    chosen = ctx.channel if channel is False else channel
    return memo(
        ctx,
        ("funnel", mode, month, chosen, by),
        lambda: build_funnel(ctx.facts, month, chosen, ctx.settings, mode=mode, by=by),  # type: ignore[arg-type]
    )


def _file_name(name: str) -> str:
    safe = "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")
    while "--" in safe:
        safe = safe.replace("--", "-")
    return f"{safe or 'table'}.csv"


HIGHLIGHT = "background-color: #FFF4D6"


def table(
    frame: pd.DataFrame,
    name: str,
    key: str,
    height: int | str = "auto",
    column_config: dict | None = None,
    highlight: Any = None,
) -> None:
    """A table (cells rendered as text, never Markdown) with a CSV download (formulas neutralized); rows
    where the boolean array `highlight` is true get a warm background. The CSV is written when the button is
    clicked (Streamlit's deferred download), not on every run of the page: the Expand page spent a quarter of a
    run going back to a month already shown writing its three tables' CSVs."""
    config = {
        col: st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm") for col in ses.date_columns(frame)
    }
    shown: Any = frame
    if highlight is not None and bool(highlight.any()):
        marks = pd.DataFrame("", index=frame.index, columns=frame.columns)
        marks.loc[highlight] = HIGHLIGHT
        shown = frame.style.apply(lambda _: marks, axis=None)
    st.dataframe(
        shown, hide_index=True, height=height, key=f"{key}-table", placeholder="—",
        column_config={**config, **(column_config or {})},
    )  # fmt: skip
    st.download_button(
        "Download CSV",
        lambda: to_safe_csv(frame),
        file_name=_file_name(name),
        mime="text/csv",
        key=f"{key}-csv",
        on_click="ignore",
        icon=":material/download:",
        type="tertiary",
    )


def chart(fig: go.Figure, key: str, to_request: Callable[[dict], dict | None] | None = None) -> None:
    """A plotly figure; when `to_request` is given, clicking a mark opens the rows behind it."""
    config = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}
    if to_request is None:
        st.plotly_chart(fig, key=key, config=config, theme=None)
        return
    st.plotly_chart(
        fig,
        key=key,
        config=config,
        theme=None,
        on_select=lambda: drill_from_chart(key, to_request),
        selection_mode="points",
    )


def metric_request(metric_id: str, month: str, channel: str | None) -> dict:
    """The drill-through request for one metric, month and channel."""
    return {"kind": "metric", "id": metric_id, "month": month, "channel": channel}


def unit_columns(units: dict[str, str]) -> dict[str, Any]:
    """st.dataframe number formats per column from metric units (rates as %, money with the currency)."""
    formats = {"rate": "percent", "currency": "dollar", "days": "%.0f days", "nps": "%+.0f", "score": "%.0f"}
    return {
        column: st.column_config.NumberColumn(format=formats.get(unit, "localized"))
        for column, unit in units.items()
        if unit != "text"
    }


WINDOWS = {1: "the month", 3: "3 months", 12: "12 months"}
