"""The app in headless Chromium: every page opens, a file uploads, the month picker writes the URL."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

import pytest
from conftest import shoot
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

PAGES = ["overview", "attract", "capture", "nurture", "convert", "expand", "data", "definitions"]
DEALS_CSV = b"""Deal ID,Create Date,Close Date,Deal Stage,Amount,Deal Type
D1,2026-07-01,2026-08-15,Closed Won,12000,New Business
D2,2026-07-03,2026-08-20,Closed Lost,8000,New Business
D3,2026-07-09,soon,Closed Won,5000,Existing Business
"""
RUN_TIMEOUT = 30_000


def settle(page: Page) -> None:
    """Wait until the script run triggered by the last action has finished and the charts have drawn."""
    app = page.get_by_test_id("stApp")
    expect(app).to_have_attribute("data-test-script-state", "notRunning", timeout=RUN_TIMEOUT)
    page.wait_for_timeout(500)  # plotly draws after the run


def open_page(page: Page, server: str, title: str) -> None:
    """Go to a page through the sidebar menu (same session) and wait for it to render."""
    page.get_by_test_id("stSidebarNavLink").filter(has_text=title).click()
    path = "" if title == "Overview" else title.lower()
    expect(page).to_have_url(re.compile(rf"{re.escape(server)}/{path}(\?.*)?$"))
    expect(page.get_by_test_id("stMain").locator("h1").first).to_contain_text(title, timeout=RUN_TIMEOUT)
    settle(page)


def test_every_page_opens_without_an_error(page: Page, server: str) -> None:
    page.goto(server)
    for name in PAGES:
        open_page(page, server, name.capitalize())
        expect(page.get_by_test_id("stException")).to_have_count(0)
        expect(page.get_by_test_id("stMain")).not_to_contain_text("Traceback")
        # The README shows the Overview and the top of the Nurture page (cards, score profile).
        shoot(
            page, name, docs=name in ("overview", "nurture"), max_height=2300 if name == "nurture" else 6000
        )


def test_switching_the_month_in_the_sidebar_changes_the_url(page: Page, server: str) -> None:
    page.goto(f"{server}/convert")
    expect(page.get_by_test_id("stMain").locator("h1").first).to_contain_text("Convert", timeout=RUN_TIMEOUT)
    settle(page)
    page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").first.click()
    # Typed and taken with Enter: a click on an option further down the list can land while the list still
    # scrolls it into view (the list stayed open, once, on a loaded machine).
    page.keyboard.type("Mar 2026")
    page.get_by_role("option", name="Mar 2026", exact=True).wait_for()
    page.keyboard.press("Enter")
    settle(page)
    expect(page).to_have_url(f"{server}/convert?month=Mar+2026")
    expect(page.get_by_test_id("stMain")).to_contain_text("Mar 2026")
    # The link keeps the view on another page and after a reload.
    open_page(page, server, "Nurture")
    expect(page).to_have_url(f"{server}/nurture?month=Mar+2026")
    page.reload()
    settle(page)
    expect(page.get_by_test_id("stMain")).to_contain_text("Mar 2026")
    shoot(page, "nurture-march")


def test_uploading_a_file_from_the_data_page_shows_its_report(
    page: Page, server: str, tmp_path: Path
) -> None:
    deals = tmp_path / "deals.csv"
    deals.write_bytes(DEALS_CSV)
    page.goto(f"{server}/data")
    expect(page.get_by_test_id("stMain").locator("h1").first).to_contain_text("Data", timeout=RUN_TIMEOUT)
    settle(page)
    page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(str(deals))
    # The upload is read, then the app reruns once with the new workspace.
    expect(page.get_by_test_id("stSidebar")).to_contain_text("Your uploads (1 file)", timeout=RUN_TIMEOUT)
    settle(page)
    main = page.get_by_test_id("stMain")
    picker = main.get_by_test_id("stSelectbox").filter(has_text="Report and mapping of")
    expect(picker).to_have_count(1)
    expect(picker.locator("input")).to_have_value("deals.csv → deals · 2 of 3 rows loaded")
    expect(main).to_contain_text("closed_at: not a date in column 'Close Date': 'soon'")  # the rejected row
    shoot(page, "data-upload")
    # The rejected rows download, written when the button is clicked (Streamlit's deferred download).
    with page.expect_download() as download:
        main.locator(".st-key-rejected-0-deals-csv button").click()
    assert download.value.suggested_filename == "deals-csv-rejected-rows.csv"
    rejected = Path(download.value.path()).read_bytes()
    assert rejected.startswith(codecs.BOM_UTF8)  # Excel reads the accents right
    lines = rejected.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("row,reason,Deal ID,Create Date,Close Date")
    assert lines[1:] == [
        "4,closed_at: not a date in column 'Close Date': 'soon',D3,2026-07-09,soon,Closed Won,5000,Existing Business"
    ]
