"""The app started on a workspace folder (`--data DIR` / $LIFECYCLE_DATA) shows that folder's numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import APP, TIMEOUT, card_values, click, open_page, upload
from streamlit.testing.v1 import AppTest

from lifecycle import metrics as lm
from lifecycle.display import format_value
from lifecycle.metrics.store import load_facts
from lifecycle.sample import generate
from lifecycle.session import DATA_DIR_ENV, data_dir
from lifecycle.workspace import commit, load_tables


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("acme")
    commit(out, generate(leads=800, seed=3))
    return out


def test_data_dir_comes_from_the_command_line_else_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    assert data_dir([]) is None
    assert data_dir(["--data", "/x/ws"]) == Path("/x/ws")
    monkeypatch.setenv(DATA_DIR_ENV, "/y/ws")
    assert data_dir(["--other", "1"]) == Path("/y/ws")
    assert data_dir(["--data", "/x/ws"]) == Path("/x/ws")


def test_the_app_opens_a_workspace_folder_and_its_cards_are_the_engines(folder, monkeypatch) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, str(folder))
    at = open_page(AppTest.from_file(str(APP), default_timeout=TIMEOUT), "capture")
    assert not at.exception and not at.error
    assert any(f"Workspace {folder.name}" in m.value for m in at.sidebar.markdown)
    assert load_facts(folder) is not None  # opening saved the facts for next time
    expected = lm.build_facts(load_tables(folder))
    month = lm.default_month(expected)
    shown = card_values(at)
    for spec in lm.stage_metrics("capture"):
        assert shown[spec.label] == format_value(lm.compute_metric(expected, spec.id, month).value, spec.unit)
    at = open_page(at, "data")
    assert any(folder.name in info.value for info in at.info)
    at = click(at, "Start an empty workspace")
    at = click(at, "Reset to the workspace folder")
    assert at.session_state["workspace"].folder == str(folder)


def test_a_missing_workspace_folder_says_so_on_the_data_page(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "nowhere"))
    at = open_page(AppTest.from_file(str(APP), default_timeout=TIMEOUT), "overview")
    assert not at.exception
    assert any("Workspace nowhere" in m.value for m in at.sidebar.markdown)
    at = open_page(at, "data")
    assert any("could not be opened" in e.value and "nowhere" in e.value for e in at.error)


def test_the_nurture_page_reads_the_saved_sends_and_score_history_of_a_folder(folder, monkeypatch) -> None:
    from lifecycle.metrics.drivers import score_drivers
    from lifecycle.metrics.store import open_facts

    open_facts(folder)  # saved: the app reads them, the sends and score history on first use
    monkeypatch.setenv(DATA_DIR_ENV, str(folder))
    at = open_page(AppTest.from_file(str(APP), default_timeout=TIMEOUT), "nurture")
    assert not at.exception and not at.error
    expected = lm.build_facts(load_tables(folder))
    month = lm.default_month(expected)
    drivers = score_drivers(expected, month).drivers  # from the score history
    assert len(drivers) and any(
        list(frame.value.iloc[:, 0]) == list(drivers["reason"]) for frame in at.dataframe
    )
    programs = [frame.value for frame in at.dataframe if "program" in frame.value.columns]
    assert programs and programs[0]["recipients"].sum() > 0  # from the e-mail sends


def test_every_session_on_a_workspace_folder_shares_one_copy_of_its_facts(tmp_path, monkeypatch) -> None:
    from lifecycle.metrics.derived import Later

    commit(tmp_path, generate(leads=300, seed=4))
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    first = open_page(AppTest.from_file(str(APP), default_timeout=TIMEOUT), "nurture")
    second = open_page(AppTest.from_file(str(APP), default_timeout=TIMEOUT), "overview")
    assert not first.exception and not second.exception
    facts = first.session_state["_built"].facts
    assert second.session_state["_built"].facts is facts
    # what the first session's Nurture page read is there for the second
    assert not isinstance(facts.cache[("programs", "people", "prospect")], Later)
    commit(tmp_path, {"nps": load_tables(tmp_path)["nps"].head(5)})  # a new ingest into the folder
    third = open_page(AppTest.from_file(str(APP), default_timeout=TIMEOUT), "overview")
    assert third.session_state["_built"].facts is not facts
    assert len(third.session_state["_built"].facts.nps) == 5


def test_an_upload_in_one_session_on_a_workspace_folder_leaves_the_shared_facts_alone(
    tmp_path, monkeypatch
) -> None:
    commit(tmp_path, generate(leads=300, seed=5))
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    other = open_page(AppTest.from_file(str(APP), default_timeout=TIMEOUT), "capture")
    shared = other.session_state["_built"].facts
    before = (len(shared.leads), shared.channels, card_values(other))
    leads = b"Lead ID,Create Date,Original Source\nS1,2026-07-02,Secret Channel\n"
    mine = upload(
        open_page(AppTest.from_file(str(APP), default_timeout=TIMEOUT), "data"), ("mine.csv", leads)
    )
    assert not mine.exception
    assert mine.session_state["_built"].facts is not shared
    assert list(mine.session_state["_built"].facts.leads["lead_id"]) == ["S1"]
    other = open_page(other.run(), "capture")
    assert other.session_state["_built"].facts is shared
    assert (len(shared.leads), shared.channels, card_values(other)) == before
    assert "Secret Channel" not in shared.channels
