"""Session isolation: what one browser session uploads is never visible to another.

Two AppTest instances of app.py are two users of one server process: they share the module globals and the
`st.cache_data` caches, and each has its own session state. The static checks below keep it that way: no
module-level container in `lifecycle/` or `pages/` is mutated at run time, and nothing is kept with
`st.cache_resource` (one object shared by every session) but the facts of the workspace folder the server was
started on (`SHARED_RESOURCES`), which every session shows by design and no upload touches
(tests/pages/test_folder.py).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import APP, TIMEOUT, card_values, open_page, upload
from streamlit.testing.v1 import AppTest

from lifecycle.session import ALL_CHANNELS

ROOT = APP.parent
SOURCES = sorted([*(ROOT / "lifecycle").rglob("*.py"), *(ROOT / "pages").glob("*.py"), APP])

# Three leads of session A in July and August 2026, all from one channel no sample lead comes from.
LEADS_A = b"""Lead ID,Create Date,Original Source,Email
A1,2026-07-02,Secret Channel A,a1@alpha.example
A2,2026-07-09,Secret Channel A,a2@alpha.example
A3,2026-08-03,Secret Channel A,a3@alpha.example
"""
# Two leads of session B, from another channel of its own.
LEADS_B = b"""Lead ID,Create Date,Original Source,Email
B1,2026-06-11,Private Channel B,b1@beta.example
B2,2026-07-20,Private Channel B,b2@beta.example
"""
FILE_A, FILE_B = "alpha-leads.csv", "beta-leads.csv"
SHARED_RESOURCES = {"pages/_ui.py:opened_folder"}
"""The one `st.cache_resource`: the opened facts of the `--data DIR` folder, keyed on its table files."""
CHANNEL_A, CHANNEL_B = "Secret Channel A", "Private Channel B"


@pytest.fixture
def new_session(app_test: AppTest) -> Callable[[], AppTest]:
    """Opens another browser session on the same app (the first is `app_test`, already configured)."""

    def make() -> AppTest:
        return AppTest.from_file(str(APP), default_timeout=TIMEOUT)

    return make


def channels(at: AppTest) -> list[str]:
    """The sidebar channel picker's options."""
    return list(at.selectbox(key="channel").options)


def shown_text(at: AppTest) -> str:
    """Everything the session shows as text: sidebar and main, titles, captions, cards, pickers, tables."""
    parts: list[str] = []
    for kind in ("title", "subheader", "markdown", "caption", "error", "warning", "info", "success"):
        parts += [str(e.value) for e in at.get(kind)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    for box in at.selectbox:
        parts += [box.label, *map(str, box.options)]
    parts += [d.value.to_csv() for d in at.dataframe]
    return "\n".join(parts)


def sidebar_status(at: AppTest) -> str:
    """The sidebar's data status (source, range, tables)."""
    return " ".join([*(m.value for m in at.sidebar.markdown), *(c.value for c in at.sidebar.caption)])


def module_state() -> dict[str, str]:
    """repr of every module-level dict, list and set of the app's imported modules (lifecycle.*, pages.*)."""
    state: dict[str, str] = {}
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] not in ("lifecycle", "pages"):
            continue
        for attr, value in vars(module).items():
            if isinstance(value, dict | list | set | bytearray):
                state[f"{name}.{attr}"] = repr(value)
    return state


def test_an_upload_in_one_session_is_not_visible_in_another(new_session: Callable[[], AppTest]) -> None:
    b = open_page(new_session(), "capture")
    sample_cards, sample_channels, sample_status = card_values(b), channels(b), sidebar_status(b)
    assert sample_cards and "Sample company" in sample_status and CHANNEL_A not in sample_channels
    globals_before = module_state()

    a = upload(open_page(new_session(), "data"), (FILE_A, LEADS_A))
    assert not a.exception
    assert channels(a) == [ALL_CHANNELS, CHANNEL_A]
    assert "Your uploads (1 file)" in sidebar_status(a)

    # B reruns after A's upload, and a third user opens the app fresh: both still see the sample company.
    for other in (b.run(), open_page(new_session(), "capture")):
        assert not other.exception
        assert channels(other) == sample_channels
        assert card_values(other) == sample_cards
        assert sidebar_status(other) == sample_status
        assert other.session_state["workspace"].source == "sample"
    b = open_page(b, "data")
    assert (
        FILE_A not in shown_text(b)
        and CHANNEL_A not in shown_text(b)
        and "alpha.example" not in shown_text(b)
    )

    # B uploads its own file: each now sees only its own.
    b = upload(b, (FILE_B, LEADS_B))
    a = a.run()
    assert not a.exception and not b.exception
    assert channels(b) == [ALL_CHANNELS, CHANNEL_B]
    assert channels(a) == [ALL_CHANNELS, CHANNEL_A]
    assert [f.name for f in a.session_state["workspace"].files] == [FILE_A]
    assert [f.name for f in b.session_state["workspace"].files] == [FILE_B]
    assert FILE_B not in shown_text(a) and CHANNEL_B not in shown_text(a)
    assert FILE_A not in shown_text(b) and CHANNEL_A not in shown_text(b)
    assert sorted(a.session_state["_built"].tables["leads"]["lead_id"]) == ["A1", "A2", "A3"]
    assert sorted(b.session_state["_built"].tables["leads"]["lead_id"]) == ["B1", "B2"]

    # Two sessions reading and uploading left no trace in the modules' globals.
    assert module_state() == globals_before


def test_the_same_bytes_uploaded_under_another_name_carry_only_that_name(
    new_session: Callable[[], AppTest],
) -> None:
    """The ingest cache is keyed on content: a second user uploading identical bytes shares the reading,
    but never the first user's file name (it names the rejected-rows and preview downloads)."""
    a = upload(open_page(new_session(), "data"), (FILE_A, LEADS_A))
    b = upload(open_page(new_session(), "data"), (FILE_B, LEADS_A))
    assert not a.exception and not b.exception
    assert [f.name for f in b.session_state["workspace"].files] == [FILE_B]
    [[reading]] = b.session_state["_built"].results
    assert reading.report.file == FILE_B
    assert FILE_A not in shown_text(b)


# ---------------------------------------------------------------------------------------------- static


MUTATORS = {
    "append", "extend", "insert", "remove", "pop", "popitem", "clear", "update", "setdefault", "add",
    "discard", "difference_update", "intersection_update", "symmetric_difference_update", "sort", "reverse",
}  # fmt: skip
CONTAINER_CALLS = {"dict", "list", "set", "defaultdict", "OrderedDict", "Counter", "deque", "bytearray"}


def module_containers(tree: ast.Module) -> set[str]:
    """Names bound at module level to a mutable container (literal, comprehension or constructor call)."""
    names: set[str] = set()
    for node in tree.body:
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign)
            else []
        )
        value = getattr(node, "value", None)
        mutable = isinstance(
            value, ast.Dict | ast.List | ast.Set | ast.DictComp | ast.ListComp | ast.SetComp
        ) or (
            isinstance(value, ast.Call)
            and (getattr(value.func, "id", None) or getattr(value.func, "attr", None)) in CONTAINER_CALLS
        )
        if mutable:
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def run_time_mutations(path: Path) -> list[str]:
    """Places inside functions that mutate a module-level container, or rebind a global."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    containers = module_containers(tree)
    found: list[str] = []
    functions = [
        n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
    ]
    for function in functions:
        for node in ast.walk(function):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Global):
                found.append(f"{where} rebinds {', '.join(node.names)}")
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in MUTATORS
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in containers
            ):
                found.append(f"{where} {node.func.value.id}.{node.func.attr}()")
            elif isinstance(node, ast.Assign | ast.AugAssign | ast.Delete):
                targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
                for target in targets:
                    if (
                        isinstance(target, ast.Subscript | ast.Attribute)
                        and isinstance(target.value, ast.Name)
                        and target.value.id in containers
                    ):
                        found.append(f"{where} writes into {target.value.id}")
    return found


def test_no_module_level_container_is_mutated_at_run_time() -> None:
    assert len(SOURCES) > 10
    found = [hit for path in SOURCES for hit in run_time_mutations(path)]
    assert found == []


def test_nothing_is_shared_across_sessions_with_cache_resource_and_caches_are_bounded() -> None:
    resource, unbounded, shared = [], [], set()
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                for decorator in node.decorator_list:
                    func = decorator.func if isinstance(decorator, ast.Call) else decorator
                    if isinstance(func, ast.Attribute) and func.attr == "cache_resource":
                        shared.add(f"{path.relative_to(ROOT)}:{node.name}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("cache_resource", "experimental_singleton"):
                resource.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            for decorator in getattr(node, "decorator_list", []):
                call = decorator if isinstance(decorator, ast.Call) else None
                func = call.func if call else decorator
                keywords = {k.arg for k in call.keywords} if call else set()
                if (
                    isinstance(func, ast.Attribute)
                    and func.attr == "cache_data"
                    and "max_entries" not in keywords
                ):
                    unbounded.append(f"{path.relative_to(ROOT)}:{decorator.lineno}")
    assert shared == SHARED_RESOURCES, "st.cache_resource shares one object between every session"
    assert len(resource) == len(SHARED_RESOURCES), resource  # no other use (an alias, a call)
    assert unbounded == [], "st.cache_data without max_entries grows with every upload"
