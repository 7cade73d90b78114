"""Every page renders without an exception on the sample data, an empty workspace and a leads-only workspace."""

from __future__ import annotations

import json

import pytest
from conftest import PAGES, click, open_page, upload
from streamlit.testing.v1 import AppTest

# Six leads, two channels, a few stage dates: the only table loaded.
LEADS_CSV = b"""Record ID,Create Date,Original Source,Lifecycle Stage,Became a Marketing Qualified Lead Date
1,2026-08-03,Organic Search,lead,
2,2026-08-10,Paid Search,marketingqualifiedlead,2026-08-20
3,2026-09-01,Organic Search,lead,
4,2026-09-12,Paid Search,marketingqualifiedlead,2026-09-30
5,2026-09-15,Organic Search,marketingqualifiedlead,2026-10-02
6,2026-10-05,Paid Search,lead,
"""


@pytest.mark.parametrize("page_name", PAGES)
def test_page_renders_on_the_sample_data_with_titled_charts(app_test: AppTest, page_name: str) -> None:
    at = open_page(app_test, page_name)
    assert not at.exception
    assert at.title or at.markdown
    assert not at.error
    charts = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    assert all(chart["layout"]["title"]["text"] for chart in charts)
    if page_name not in ("data", "definitions"):
        assert charts, "every report page draws charts"


def test_every_page_renders_on_an_empty_workspace(app_test: AppTest) -> None:
    at = click(open_page(app_test, "data"), "Start an empty workspace")
    assert at.session_state["workspace"].files == ()
    for page in PAGES:
        at = open_page(at, page)
        assert not at.exception, page
    at = open_page(at, "overview")
    assert any("No data loaded" in info.value for info in at.info)


def test_every_page_renders_with_only_leads_and_says_what_would_enable_the_rest(app_test: AppTest) -> None:
    at = click(open_page(app_test, "data"), "Start an empty workspace")
    at = upload(at, ("contacts.csv", LEADS_CSV))
    assert not at.error
    assert [f.name for f in at.session_state["workspace"].files] == ["contacts.csv"]
    for page in PAGES:
        at = open_page(at, page)
        assert not at.exception, page
    at = open_page(at, "attract")
    captions = " ".join(c.value for c in at.caption)
    assert "Not available" in captions and "web analytics export" in captions
    assert at.get("page_link"), "an unavailable metric links to the Data page"
