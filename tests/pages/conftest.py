"""AppTest fixtures: the app on the sample company, run through the router exactly as the server runs it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from benchmarks.page_runs import run_as_server
from lifecycle import sample
from lifecycle.session import SAMPLE_DIR, SAMPLE_DIR_ENV

APP = Path(__file__).resolve().parents[2] / "app.py"
PAGES = ["overview", "attract", "capture", "nurture", "convert", "expand", "data", "definitions"]
TIMEOUT = 60


@pytest.fixture(autouse=True)
def _navigation_app(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run app.py on every AppTest run, as the server does once st.navigation has been called
    (`benchmarks.page_runs.run_as_server`); undone after each test."""
    run_as_server(monkeypatch.setattr)


@pytest.fixture(autouse=True, scope="session")
def _fresh_cache() -> Iterator[None]:
    """The suite starts and ends without cached ingest results. In between, tests share them as two users
    opening the sample share them: the cache is keyed on file content, so sharing cannot mix up data."""
    st.cache_data.clear()
    yield
    st.cache_data.clear()


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sample company (data/sample/), or the same company generated while it is not checked in."""
    if SAMPLE_DIR.is_dir() and any(SAMPLE_DIR.iterdir()):
        return SAMPLE_DIR
    out = tmp_path_factory.mktemp("sample")
    assert sample.main(["--out", str(out)]) == 0
    return out


@pytest.fixture
def app_test(sample_dir: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """The app on the sample data, not run yet."""
    monkeypatch.setenv(SAMPLE_DIR_ENV, str(sample_dir))
    return AppTest.from_file(str(APP), default_timeout=TIMEOUT)


def open_page(at: AppTest, page: str) -> AppTest:
    """Switch to pages/<page>.py and run."""
    return at.switch_page(f"pages/{page}.py").run()


def click(at: AppTest, label: str) -> AppTest:
    """Click the one button with this label and run."""
    [button] = [b for b in at.button if b.label == label]
    return button.click().run()


def upload(at: AppTest, *files: tuple[str, bytes]) -> AppTest:
    """Upload files through the Data page's uploader and run."""
    at = open_page(at, "data") if not at.file_uploader else at
    [uploader] = [u for u in at.file_uploader if u.label == "Upload exports"]
    return uploader.set_value([(name, data, "text/csv") for name, data in files]).run()


def card_values(at: AppTest) -> dict[str, str]:
    """Metric card label → shown value."""
    return {m.label: m.value for m in at.metric}


def plain(markdown: str) -> str:
    """Markdown as a reader sees it: the escapes the app adds around uploaded text removed."""
    return markdown.replace("\\", "")


@pytest.fixture(scope="session")
def small_sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1,000-lead sample company (same exports, a tenth of the rows): for tests that walk many pages."""
    out = tmp_path_factory.mktemp("small-sample")
    assert sample.main(["--leads", "1000", "--seed", "3", "--out", str(out)]) == 0
    return out


@pytest.fixture
def small_app_test(small_sample_dir: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """The app on the small sample company, not run yet."""
    monkeypatch.setenv(SAMPLE_DIR_ENV, str(small_sample_dir))
    return AppTest.from_file(str(APP), default_timeout=TIMEOUT)
