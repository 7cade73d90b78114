"""Presentation mode on a 1280×720 shared screen: the toggle, then title slide → Overview → … → Expand with the
Next button, a screenshot of each step (test-results/screenshots/present-*.png, copied to /tmp/presentation-shots/)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from conftest import SCREENSHOTS
from playwright.sync_api import Page, expect
from test_app import RUN_TIMEOUT, settle

pytestmark = pytest.mark.browser

SHARED_SCREEN = {"width": 1280, "height": 720}
SLIDES = ["Overview", "Attract", "Capture", "Nurture", "Convert", "Expand"]
COPY_TO = Path("/tmp/presentation-shots")


def snap(page: Page, step: int, name: str) -> None:
    """What the room sees: the 1280×720 window, no scrolling."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.mouse.move(640, 5)  # off the content: no hover highlight in the picture
    path = SCREENSHOTS / f"present-{step}-{name.lower()}.png"
    page.screenshot(path=str(path))
    COPY_TO.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, COPY_TO / path.name)


def test_presentation_mode_walks_from_the_title_slide_to_expand(page: Page, server: str) -> None:
    page.set_viewport_size(SHARED_SCREEN)
    page.goto(server)
    main = page.get_by_test_id("stMain")
    expect(main.locator("h1").first).to_contain_text("Overview", timeout=RUN_TIMEOUT)
    settle(page)
    page.get_by_test_id("stSidebar").get_by_text("Presentation mode").click()
    settle(page)
    expect(page).to_have_url(re.compile(r"present=true"))
    expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)  # the fixed sequence replaces the menu
    page.get_by_test_id("stSidebarCollapseButton").locator("button").click()  # the whole width for the slides
    page.get_by_role("button", name="Previous: Quarterly review").click()
    expect(main).to_contain_text("Lifecycle review", timeout=RUN_TIMEOUT)
    settle(page)
    snap(page, 0, "title")
    for step, title in enumerate(SLIDES, start=1):
        page.get_by_role("button", name=f"Next: {title}").click()
        expect(main.locator("h1").first).to_contain_text(title, timeout=RUN_TIMEOUT)
        settle(page)
        expect(page.get_by_test_id("stException")).to_have_count(0)
        expect(page).to_have_url(re.compile(r"present=true"))  # the mode survives each page change
        snap(page, step, title)
    expect(page.locator(".st-key-present-next button")).to_be_disabled()  # Expand is the last slide
