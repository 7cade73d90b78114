"""Facts saved in a workspace read back identical, and are only used while the tables they came from are."""

from __future__ import annotations

import pandas as pd
import pytest

from lifecycle.metrics import (
    CATALOG,
    Settings,
    build_facts,
    channels,
    compute_all,
    engine,
    metric_series,
    months_in_data,
)
from lifecycle.metrics.derived import Later
from lifecycle.metrics.drivers import nurture_impact, score_drivers
from lifecycle.metrics.engine import SAVED_MONTHS
from lifecycle.metrics.programs import program_steps
from lifecycle.metrics.store import FRAMES, load_facts, open_facts, save_facts
from lifecycle.sample import generate
from lifecycle.workspace import commit, load_tables, read_manifest


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
    # only the files of the facts saved last are left (no temporary file, nothing of the older facts)
    listed = read_manifest(tmp_path)["facts"]["files"].values()
    assert sorted(f"facts/{f.name}" for f in (tmp_path / "facts").iterdir()) == sorted(listed)


def test_a_workspace_that_cannot_be_written_still_opens(tmp_path, monkeypatch):
    commit(tmp_path, generate(leads=300))

    def refuse(*args, **kwargs):
        raise PermissionError("read-only file system")

    monkeypatch.setattr("lifecycle.metrics.store.save_facts", refuse)
    assert len(open_facts(tmp_path).leads) == 300
    assert load_facts(tmp_path) is None


def test_opening_leaves_the_email_sends_and_score_history_unread_until_used(workspace):
    built = build_facts(load_tables(workspace))
    save_facts(workspace, built)
    loaded = load_facts(workspace)
    month = months_in_data(built)[-2]
    results = compute_all(loaded, month)
    compute_all(loaded, month, channels(built)[0])
    assert isinstance(loaded.stored("sends"), Later) and isinstance(loaded.stored("scores"), Later)
    assert loaded.has("sends") and loaded.has("scores")
    # A later save replaces the files; facts opened before still read theirs.
    save_facts(workspace, built)
    rows = results["nurture.email_open_rate"].rows
    expected = compute_all(built, month)["nurture.email_open_rate"].rows
    pd.testing.assert_frame_equal(rows, expected)
    assert not isinstance(loaded.stored("sends"), Later)
    view = loaded.view(channels(built)[0])
    pd.testing.assert_frame_equal(view.sends, built.view(channels(built)[0]).sends)
    pd.testing.assert_frame_equal(loaded.scores.changes, built.scores.changes)


def test_saved_values_answer_series_without_computing_and_only_for_the_default_settings(
    workspace, monkeypatch
):
    built = build_facts(load_tables(workspace))
    save_facts(workspace, built)
    loaded = load_facts(workspace)
    months = months_in_data(built)[-SAVED_MONTHS:]
    assert len(months) == SAVED_MONTHS
    expected = {metric_id: metric_series(built, metric_id, months) for metric_id in CATALOG}

    def no_computing(*args, **kwargs):
        raise AssertionError("a saved value was computed again")

    monkeypatch.setattr(engine, "_compute", no_computing)
    for metric_id in CATALOG:
        pd.testing.assert_frame_equal(
            metric_series(loaded, metric_id, months), expected[metric_id], obj=metric_id
        )
    with pytest.raises(AssertionError, match="computed again"):
        metric_series(loaded, "nurture.mqls", months[-1:], settings=Settings(mql_threshold=60.0))
    with pytest.raises(AssertionError, match="computed again"):
        metric_series(loaded, "nurture.mqls", months[:1], channel=channels(built)[0])


def test_facts_saved_by_other_metrics_code_are_derived_again(workspace, monkeypatch):
    open_facts(workspace)
    assert load_facts(workspace) is not None
    monkeypatch.setattr("lifecycle.metrics.store.code_version", lambda: "other code")
    assert load_facts(workspace) is None


def assert_same_facts(got, want) -> None:
    for name in FRAMES:
        a, b = getattr(got, name), getattr(want, name)
        if b is None:
            assert a is None, name
        else:
            pd.testing.assert_frame_equal(a, b, obj=name)
    pd.testing.assert_frame_equal(got.scores.changes, want.scores.changes)
    pd.testing.assert_index_equal(got.scores.lead_index, want.scores.lead_index)
    assert got.scores.starts.tolist() == want.scores.starts.tolist()
    assert (got.info, got.channels) == (want.info, want.channels)


def test_event_tables_read_as_categoricals_give_the_same_facts(workspace, tmp_path):
    compact = load_tables(workspace, compact=True)
    assert isinstance(compact["email_events"]["recipient"].dtype, pd.CategoricalDtype)
    assert isinstance(compact["score_changes"]["lead_id"].dtype, pd.CategoricalDtype)
    assert str(compact["leads"]["lead_id"].dtype) == "str"
    assert_same_facts(build_facts(compact), build_facts(load_tables(workspace)))
    # Recipients with spaces or given by e-mail, an email known only by its program and step, lead ids
    # whose order as text differs from the order they first appear in.
    tables = generate(leads=300)
    events = tables["email_events"].head(400).copy()
    events["recipient"] = events["recipient"].astype("str")
    events.loc[events.index[:40], "recipient"] = " " + events["recipient"].iloc[:40] + " "
    events.loc[events.index[40:80], "email"] = None
    scores = tables["score_changes"].iloc[::-1].reset_index(drop=True)
    folder = tmp_path / "messy"
    commit(folder, {**tables, "email_events": events, "score_changes": scores})
    assert_same_facts(build_facts(load_tables(folder, compact=True)), build_facts(load_tables(folder)))


def test_the_nurture_analyses_of_opened_facts_read_their_saved_codes_not_the_sends_nor_the_score_history(
    workspace,
):
    save_facts(workspace, build_facts(load_tables(workspace)))
    loaded = load_facts(workspace)
    # Facts with nothing worked out yet: their analyses compute from the frames.
    fresh = build_facts(load_tables(workspace))
    months = months_in_data(fresh)
    cases = [(month, channel) for month in months[-13::6] for channel in (None, channels(fresh)[0])]
    for month, channel in cases:
        for audience in ("prospect", "customer"):
            got = program_steps(loaded, month, channel, audience=audience, months=3)
            want = program_steps(fresh, month, channel, audience=audience, months=3)
            assert len(want.steps) > 0, (month, channel, audience)
            pd.testing.assert_frame_equal(got.steps, want.steps)
        got, want = score_drivers(loaded, month, channel), score_drivers(fresh, month, channel)
        assert len(want.drivers) > 0
        pd.testing.assert_frame_equal(got.drivers, want.drivers)
        got, want = nurture_impact(loaded, month, channel), nurture_impact(fresh, month, channel)
        assert want.basis
        pd.testing.assert_frame_equal(got.groups, want.groups)
        pd.testing.assert_frame_equal(got.comparison, want.comparison)
    assert isinstance(loaded.stored("sends"), Later) and isinstance(loaded.stored("scores"), Later)
    # The rows behind the tables, asked for, read the sends then and are the same.
    month, channel = cases[-1]
    for analysis in (program_steps, score_drivers, nurture_impact):
        got, want = analysis(loaded, month, channel).members, analysis(fresh, month, channel).members
        assert len(want) > 0, analysis.__name__
        pd.testing.assert_frame_equal(got, want, obj=analysis.__name__)
    assert not isinstance(loaded.stored("sends"), Later)


def test_cards_count_the_rows_behind_email_rates_without_reading_the_sends(workspace):
    save_facts(workspace, build_facts(load_tables(workspace)))
    loaded = load_facts(workspace)
    month = months_in_data(loaded)[-2]
    results = [compute_all(loaded, month), compute_all(loaded, month, channels(loaded)[0])]
    counts = [{metric_id: r.row_count for metric_id, r in each.items()} for each in results]
    assert isinstance(loaded.stored("sends"), Later)  # counted without reading them
    assert counts[0]["nurture.email_open_rate"] > counts[1]["nurture.email_open_rate"] > 0
    for each, counted in zip(results, counts, strict=True):
        for metric_id, result in each.items():
            assert counted[metric_id] == (None if result.rows is None else len(result.rows)), metric_id
