"""Presentation mode: the sidebar toggle hides the upload, adds Previous / Next through the fixed sequence."""

from __future__ import annotations

from conftest import click, open_page
from streamlit.testing.v1 import AppTest


def present(at: AppTest) -> AppTest:
    return at.toggle(key="present").set_value(True).run()


def test_presentation_mode_hides_the_upload_on_the_data_page(small_app_test: AppTest) -> None:
    at = open_page(small_app_test, "data")
    assert "Upload exports" in [u.label for u in at.file_uploader]
    at = present(at)
    assert not at.exception
    assert not at.file_uploader
    assert any("Presentation mode is on" in info.value for info in at.info)


def test_presentation_mode_walks_from_the_title_slide_to_expand_with_next(small_app_test: AppTest) -> None:
    at = present(small_app_test.run())
    assert [b.label for b in at.button if b.key == "present-next"] == ["Next: Attract"]
    at = click(at, "Previous: Quarterly review")  # the Overview is the second slide
    assert not at.exception
    assert any("Lifecycle review" in m.value for m in at.markdown)
    assert [b.label for b in at.button if b.key in ("present-previous", "present-next")] == [
        "Previous",
        "Next: Overview",
    ]
    for title in ("Overview", "Attract", "Capture", "Nurture", "Convert", "Expand"):
        at = click(at, f"Next: {title}")
        assert not at.exception, title
        shown = [t.value for t in at.title] + [m.value for m in at.markdown]
        assert any(title in text for text in shown), title
    [next_button] = [b for b in at.button if b.key == "present-next"]
    assert next_button.disabled and next_button.label == "Next"
    # Off again: the usual pages, no sequence buttons.
    at = at.toggle(key="present").set_value(False).run()
    assert not [b for b in at.button if b.key == "present-next"]
