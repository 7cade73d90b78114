"""Data: upload exports, see what each file became (table, column mapping, dates, validation), fix mappings."""

from __future__ import annotations

import json

import streamlit as st

from lifecycle import session as ses
from lifecycle.display import escape_markdown
from lifecycle.ingest import Ingested, IngestError
from lifecycle.mapping import DATE_OPTIONS, ColumnMapping, MappingError
from lifecycle.schema import TABLES
from pages import _present as present
from pages import _ui as ui

UPLOADER = "_uploader_round"
UPLOAD_ERRORS = "_upload_errors"
UPLOAD_TYPES = ["csv", "tsv", "txt", "xlsx", "xls", "zip", "gz"]
DATE_WORDS = {
    "auto": "detect from the values",
    "dayfirst": "day first (31/12/2026)",
    "monthfirst": "month first (12/31/2026)",
}


def read_uploads(files: list) -> None:
    """Ingest the uploaded files one by one with progress; recognized ones join the workspace, the others
    are reported without touching what was loaded before."""
    ws = ui.workspace()
    errors: list[tuple[str, str]] = []
    progress = st.progress(0.0, text="Reading uploads…")
    for i, upload in enumerate(files):
        data = upload.getvalue()
        name = escape_markdown(upload.name)  # labels render Markdown; a file name is the user's text
        label = f"{name} ({ses.format_bytes(len(data))}) — file {i + 1} of {len(files)}"
        progress.progress(i / len(files), text=f"Reading {label}")
        with st.status(f"Reading {label}…", expanded=False) as status:
            item = ses.loaded_file(upload.name, data)
            try:
                results = ui.ingest_cached(item.key, item)
            except (IngestError, MappingError) as exc:
                errors.append((upload.name, str(exc)))
                status.update(label=f"{name}: not loaded", state="error")
                continue
            ws = ws.with_file(item)
            status.update(label=f"{name}: {', '.join(r.table for r in results)}", state="complete")
    progress.progress(1.0, text="Done")
    ui.set_workspace(ws)
    st.session_state[UPLOAD_ERRORS] = errors
    st.session_state[UPLOADER] = st.session_state.get(UPLOADER, 0) + 1  # a fresh, empty uploader
    st.rerun()


def workspace_buttons(ws: ses.Workspace) -> None:
    """Reset to the starting data (the workspace folder given at start-up, else the sample company), or start
    from nothing."""
    row = st.container(horizontal=True)
    start = ses.default_workspace()
    label = "Reset to the workspace folder" if start.folder is not None else "Reset to the sample data"
    if row.button(label, icon=":material/restart_alt:", disabled=ws.key == start.key):
        ui.set_workspace(start)
        st.session_state[UPLOAD_ERRORS] = []
        st.rerun()
    if row.button(
        "Start an empty workspace",
        icon=":material/delete_sweep:",
        disabled=ws.source == "uploads" and not ws.files,
    ):
        ui.set_workspace(ses.Workspace("uploads", ()))
        st.session_state[UPLOAD_ERRORS] = []
        st.rerun()


def validation(index: int, result: Ingested) -> None:
    """A file's validation report: rows read / loaded / rejected, conventions, warnings, rejected rows."""
    report = result.report
    a, b, c, d = st.columns(4)
    a.metric("Rows read", f"{report.rows_read:,}")
    b.metric("Loaded", f"{report.rows_loaded:,}")
    c.metric("Rejected", f"{report.rows_rejected:,}")
    d.metric(
        "Skipped lines",
        f"{report.skipped_lines:,}",
        help="Title, comment, blank and total rows around the table.",
    )
    delimiter = {"\t": "tab", None: "—"}.get(report.delimiter, report.delimiter)
    st.caption(
        escape_markdown(
            f"Encoding {report.encoding} · delimiter {delimiter} · dates: {report.dates or 'no date columns'}"
            + (f" · sheet {report.sheet}" if report.sheet else "")
        )
    )
    for col, note in report.date_columns.items():
        st.caption(escape_markdown(f"{col}: {note}"))
    for warning in report.warnings:
        st.warning(escape_markdown(warning), icon=":material/warning:")
    if report.skipped:
        with st.popover("Skipped lines"):
            st.text("\n".join(report.skipped))
    if report.rows_rejected:
        st.markdown("**Rejected rows**")
        ui.table(
            ses.rejected_reasons(report.rejected),
            f"{report.file} rejection reasons",
            key=f"reasons-{index}-{result.table}",
        )
        ui.table(result.rejected_rows, f"{report.file} rejected rows", key=f"rejected-{index}-{result.table}")


def mapping_editor(index: int, item: ses.LoadedFile, result: Ingested) -> None:
    """Which header feeds each canonical column (editable), the date convention, parsed-value preview, and
    the mapping file to save or load."""
    report = result.report
    headers = ses.file_headers(report.columns, report.unmapped_headers)
    names = list(TABLES)
    table = st.selectbox(
        "Table", names, index=names.index(result.table), key=f"map-table-{index}",
        help="The canonical table this file is read as.",
    )  # fmt: skip
    spec = TABLES[table]
    current = report.columns if table == result.table else {}
    editor = ses.mapping_editor_frame(table, current)
    edited = st.data_editor(
        editor,
        hide_index=True,
        disabled=["column", "required", "meaning"],
        column_config={"source header": st.column_config.SelectboxColumn(options=headers, width="medium")},
        key=f"map-edit-{index}-{table}",
    )
    chosen_dates = (item.mapping or {}).get("dates", "auto")
    dates = st.selectbox(
        "Date convention", list(DATE_OPTIONS), index=list(DATE_OPTIONS).index(chosen_dates) if chosen_dates in DATE_OPTIONS else 0,
        format_func=DATE_WORDS.get, key=f"map-dates-{index}",
        help="Ambiguous dates like 03/04/2026 are read with this convention.",
    )  # fmt: skip
    mapping = ses.mapping_from_choices(
        table, dict(zip(edited["column"], edited["source header"], strict=True)), dates
    )
    if report.unmapped_headers:
        st.caption("Not used: " + escape_markdown(", ".join(report.unmapped_headers)))
    apply, save, _ = st.columns([1, 1, 2])
    if apply.button("Apply mapping", key=f"map-apply-{index}", type="primary", icon=":material/check:"):
        remap(index, item, mapping)
    save.download_button(
        "Save mapping file", json.dumps(mapping, indent=2).encode(), file_name=f"{spec.name}-mapping.json",
        mime="application/json", key=f"map-save-{index}", on_click="ignore", icon=":material/download:",
    )  # fmt: skip
    loaded = st.file_uploader(
        "Load a mapping file", type=["json"], key=f"map-load-{index}-{st.session_state.get(UPLOADER, 0)}"
    )
    if loaded is not None:
        try:
            remap(index, item, ColumnMapping.from_dict(json.loads(loaded.getvalue())).to_dict())
        except (ValueError, MappingError) as exc:
            st.error(f"This mapping file cannot be used: {escape_markdown(str(exc))}")
    st.markdown("**Parsed values** (first rows as loaded)")
    ui.table(result.frame.head(8), f"{report.file} parsed preview", key=f"preview-{index}")


def remap(index: int, item: ses.LoadedFile, mapping: dict) -> None:
    """Read the file again with `mapping`; keep the previous reading when the new one fails."""
    trial = ses.LoadedFile(item.name, item.data, item.digest, mapping["table"], mapping)
    try:
        ui.ingest_cached(trial.key, trial)
    except (IngestError, MappingError) as exc:
        st.error(f"With this mapping the file cannot be read: {escape_markdown(str(exc))}")
        return
    ui.set_workspace(ui.workspace().remapped(index, mapping["table"], mapping))
    st.session_state[UPLOADER] = st.session_state.get(UPLOADER, 0) + 1
    st.rerun()


def file_label(item: ses.LoadedFile, results: list[Ingested], error: str | None) -> str:
    """'deals.csv → deals · 2 of 3 rows loaded' (or 'not loaded')."""
    if error or not results:
        return f"{item.name} — not loaded"
    parts = [f"{r.table} · {r.report.rows_loaded:,} of {r.report.rows_read:,} rows loaded" for r in results]
    return f"{item.name} → {'; '.join(parts)}"


def file_section(index: int, item: ses.LoadedFile, results: list[Ingested], error: str | None) -> None:
    """One file: each table read from it with its validation report and column mapping."""
    if error:
        st.error(escape_markdown(error))
    for result in results:
        if len(results) > 1:
            st.markdown(f"**{escape_markdown(result.report.sheet or result.report.file)} → {result.table}**")
        checks, mapping = st.tabs(["Validation report", "Column mapping"])
        with checks:
            validation(index, result)
        with mapping:
            if len(results) == 1:
                mapping_editor(index, item, result)
            else:
                st.caption(
                    "This archive or workbook holds several tables: upload a single member to remap it."
                )
                ui.table(
                    ses.mapping_editor_frame(result.table, result.report.columns),
                    f"{result.report.file} {result.table} mapping",
                    key=f"mapping-{index}-{result.table}",
                )
    if item.mapping:
        st.caption(escape_markdown(f"{item.name} is read with a mapping you set ({item.mapping['table']})."))
    if ui.workspace().source == "uploads" and st.button(
        "Remove this file", key=f"remove-{index}", type="tertiary", icon=":material/close:"
    ):
        ui.set_workspace(ui.workspace().without(index))
        st.rerun()


ctx = ui.context()
ws = ui.workspace()
st.title("Data")
if present.active():
    # Nothing to change by accident on a shared screen.
    st.info(
        "Presentation mode is on: uploads and mappings are hidden. Turn it off in the sidebar to change the data."
    )
    st.stop()
st.caption(
    f"Showing: {ctx.built.status.source_label()} · {ctx.built.status.range_label()}. "
    "Upload CSV, TSV, Excel or zip exports as your tools export them; each file is recognized, mapped and "
    "validated, and every row is accounted for."
)
workspace_buttons(ws)

uploads = st.file_uploader(
    "Upload exports",
    type=UPLOAD_TYPES,
    accept_multiple_files=True,
    key=f"uploader-{st.session_state.get(UPLOADER, 0)}",
    help="Several files at once; a zip may hold several exports. Your first upload replaces the sample data.",
)
if uploads:
    read_uploads(uploads)
for name, message in st.session_state.get(UPLOAD_ERRORS, []):
    # The message names the file; what was loaded before stays loaded.
    text = message if message.startswith(name) else f"{name}: {message}"
    st.error(f"Not loaded — {escape_markdown(text)}", icon=":material/error:")

built = ctx.built
if ws.folder is not None:
    for message in built.errors.values():
        st.error(escape_markdown(message), icon=":material/error:")
    st.info(
        f"Showing the workspace folder {escape_markdown(ws.folder)} (tables ingested with `python -m lifecycle "
        "ingest`). Uploading exports above replaces it for this session; the reset button comes back to it."
    )
elif not ws.files:
    st.info("No files loaded. Upload exports above, or reset to the sample data.")
else:
    st.subheader("Files")
    summary = ses.validation_summary(built.results, built.workspace.files)
    ui.table(summary, "validation summary", key="summary", column_config=ui.unit_columns(
        {"rows read": "count", "loaded": "count", "rejected": "count", "skipped lines": "count"}
    ))  # fmt: skip
    files = built.workspace.files
    labels = [file_label(item, built.results[i], built.errors.get(i)) for i, item in enumerate(files)]
    # One file's details at a time: a workspace of a dozen exports stays quick to draw. Newest upload first.
    chosen = st.selectbox(
        "Report and mapping of", range(len(files)), index=len(files) - 1 if ws.source == "uploads" else 0,
        format_func=labels.__getitem__, key=f"file-pick-{st.session_state.get(UPLOADER, 0)}",
    )  # fmt: skip
    file_section(chosen, files[chosen], built.results[chosen], built.errors.get(chosen))
