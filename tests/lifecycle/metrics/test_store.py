"""Facts saved in a workspace read back identical, and are only used while the tables they came from are."""

from __future__ import annotations

import pandas as pd
import pytest

from lifecycle.metrics import build_facts, channels, compute_all, months_in_data
from lifecycle.metrics.store import FRAMES, load_facts, open_facts, save_facts
from lifecycle.sample import generate
from lifecycle.workspace import commit, load_tables


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ws")
    commit(folder, generate(leads=1500))
    return folder


def test_saved_facts_read_back_frame_for_frame(workspace):
    built = build_facts(load_tables(workspace))
    save_facts(workspace, built)
    loaded = load_facts(workspace)
    assert loaded is not None
    for name in FRAMES:
        pd.testing.assert_frame_equal(getattr(loaded, name), getattr(built, name), obj=name)
    pd.testing.assert_frame_equal(loaded.scores.changes, built.scores.changes)
    pd.testing.assert_index_equal(loaded.scores.lead_index, built.scores.lead_index)
    assert loaded.scores.starts.tolist() == built.scores.starts.tolist()
    assert loaded.info == built.info
    assert loaded.channels == built.channels
    assert loaded.present == built.present


def test_every_metric_of_every_month_and_channel_is_the_same_from_saved_facts(workspace):
    built = build_facts(load_tables(workspace))
    loaded = open_facts(workspace)
    for month in months_in_data(built)[-6:]:
        for channel in [None, *channels(built)]:
            a, b = compute_all(built, month, channel), compute_all(loaded, month, channel)
            for metric_id in a:
                assert (a[metric_id].value, a[metric_id].reason, a[metric_id].details) == (
                    b[metric_id].value, b[metric_id].reason, b[metric_id].details,
                ), (metric_id, month, channel)  # fmt: skip


def test_facts_of_older_tables_are_not_used(tmp_path):
    tables = generate(leads=300)
    commit(tmp_path, tables)
    open_facts(tmp_path)  # derives and saves
    assert load_facts(tmp_path) is not None
    fewer = tables["leads"].iloc[:100]
    commit(tmp_path, {"leads": fewer})  # a new version of one table
    assert load_facts(tmp_path) is None
    reopened = open_facts(tmp_path)
    assert len(reopened.leads) == 100
    assert len(load_facts(tmp_path).leads) == 100  # saved again for the new tables
    assert len(list((tmp_path / "facts").iterdir())) == len(
        [f for f in (tmp_path / "facts").iterdir() if f.suffix == ".parquet"]
    )


def test_a_workspace_that_cannot_be_written_still_opens(tmp_path, monkeypatch):
    commit(tmp_path, generate(leads=300))

    def refuse(*args, **kwargs):
        raise PermissionError("read-only file system")

    monkeypatch.setattr("lifecycle.metrics.store.save_facts", refuse)
    assert len(open_facts(tmp_path).leads) == 300
    assert load_facts(tmp_path) is None
