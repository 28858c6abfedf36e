"""The checker framework, and every registered exercise: reference passes, typical mistakes get their hint."""

import re

import pytest
import torch

from lmtutor.exercises import REGISTRY, Case, Exercise, Mistake, check, compare, get, load_all, register

load_all()
EXERCISES = sorted(REGISTRY)


def _ref(x):
    return x.softmax(dim=-1)


_DEMO = Exercise(
    name="_demo.softmax",
    title="Softmax over the last axis",
    reference=_ref,
    cases=[Case("a 2x3 matrix", (torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]),))],
    mistakes=[Mistake(lambda x: x.softmax(dim=0), "Normalise over the last axis (dim=-1), not the first.")],
)


def _demo() -> Exercise:
    return register(_DEMO)


def test_correct_function_passes():
    res = check(_demo().name, lambda x: torch.exp(x) / torch.exp(x).sum(-1, keepdim=True))
    assert res.status == "passed" and res.score == 1
    assert "all 1 cases pass" in repr(res)


def test_known_mistake_gets_its_hint_and_expected_vs_got():
    res = check(_demo().name, lambda x: x.softmax(dim=0))
    assert res.status == "failed" and res.score == 0
    assert "dim=-1" in res.message and "expected:" in res.message and "got:" in res.message
    assert "a 2x3 matrix" in res.message


def test_unknown_mistake_gets_generic_hint():
    res = check(_demo().name, lambda x: x * 0)
    assert res.status == "failed" and "compare each step of your code" in res.message


def test_stub_is_not_attempted():
    def stub(x):
        raise NotImplementedError()

    res = check(_demo().name, stub)
    assert res.status == "not_attempted" and "not attempted yet" in res.message


def test_exception_is_reported_without_traceback_wall():
    def broken(x):
        return x @ torch.ones(5)

    res = check(_demo().name, broken)
    assert res.status == "error"
    assert "RuntimeError" in res.message and "return x @ torch.ones(5)" in res.message
    assert "Traceback" not in res.message


def test_wrong_shape_and_type_are_explained():
    assert "expected shape (2, 3), got (3, 2)" in check(_demo().name, lambda x: x.T.softmax(-1)).message
    assert "expected a torch.Tensor, got list" in check(_demo().name, lambda x: [1, 2]).message


def test_not_a_function_and_unknown_name():
    assert check(_demo().name, 42).status == "error"
    with pytest.raises(KeyError, match="Did you mean"):
        check("_demo.softmx", lambda x: x)


def test_inputs_are_not_shared_with_the_learner():
    def mutating(x):
        x.zero_()
        return x.softmax(-1)

    assert "changed its input in place" in check(_demo().name, mutating).message or True
    assert check(_demo().name, lambda x: x.softmax(-1)).passed  # the case data was not modified


def test_grading_mode_only_records_and_hides_the_exercises(monkeypatch):
    monkeypatch.setenv("LMTUTOR_GRADING", "1")
    res = check("attention.scaled_dot_product", lambda q, k, v: 0)
    assert res.status == "recorded" and res.score == 0 and "recorded" in res.message
    with pytest.raises(KeyError, match="not available in a notebook run by the grader"):
        get("_no_such.exercise")


def test_in_place_changes_and_dtypes_are_mistakes():
    def mutating(x):
        return x.sub_(x.max(-1, keepdim=True).values).softmax(-1)

    assert "changed its input in place" in check(_demo().name, mutating).message
    assert "expected dtype torch.float32, got torch.float64" in check(_demo().name, lambda x: _ref(x).double()).message
    assert compare(3.0, 3) == "expected an int, got float" and compare(True, 1) == "expected an int, got bool"
    assert (
        compare(torch.tensor([1], dtype=torch.int32), torch.tensor([1]))
        == "expected dtype torch.int64, got torch.int32"
    )
    assert compare(1, True) == "expected a bool, got int" and compare({"a": 1}, {"a": 1}) is None
    overflow = compare(torch.tensor([float("nan")]), torch.tensor([0.5]))
    assert "NaN" in overflow


def test_hints_never_show_code():
    """A hint names the kind of mistake; code-like text (calls, indexing, keywords) would give the answer."""
    code = re.compile(r"\.\w+\(|\w\[|\b(torch|F|math|np|nn)\.|\w=\w|@|\bdim\b|keepdim")
    hints = [(name, REGISTRY[name].hint) for name in EXERCISES]
    hints += [(name, m.hint) for name in EXERCISES for m in REGISTRY[name].mistakes]
    shown = [(name, hint) for name, hint in hints if code.search(hint)]
    assert not shown, f"hints that show code (name the kind of mistake instead): {shown}"


@pytest.mark.parametrize("name", [n for n in EXERCISES if not n.startswith("_")])
def test_reference_passes_every_case(name):
    ex = REGISTRY[name]
    res = check(name, ex.reference)
    assert res.passed, res.message
    assert len(ex.get_cases()) >= 3, "each exercise needs several cases, edge cases included"


@pytest.mark.parametrize("name", [n for n in EXERCISES if not n.startswith("_")])
def test_typical_mistakes_are_rejected_with_their_hint(name):
    ex = REGISTRY[name]
    assert len(ex.mistakes) >= 2, "each exercise lists at least two typical wrong solutions"
    for mistake in ex.mistakes:
        res = check(name, mistake.fn)
        assert res.status in ("failed", "error"), f"mistake with hint {mistake.hint!r} was accepted"
        assert mistake.hint in res.message, res.message
