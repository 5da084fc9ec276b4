"""No import cycles among the project's modules (lazy imports inside functions included)."""

from __future__ import annotations

from import_graph import cycles, import_graph


def test_no_module_imports_itself_through_others():
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_stage_modules_are_not_imported_for_their_paths():
    """A stage module pulls in torch and models; others read paths from deltahall.paths."""
    graph = import_graph()
    stages = {
        "deltahall.vision.clip_train",
        "deltahall.coin.stage",
        "deltahall.t2i.stage",
        "deltahall.qa.qa_train",
        "deltahall.qa.qa_pretrain",
        "deltahall.detector.stage",
    }
    importers = {m: sorted(n for n in graph if m in graph[n]) for m in stages}
    assert importers == {
        m: (["deltahall.sweep.qa"] if m == "deltahall.qa.qa_train" else []) for m in stages
    }
