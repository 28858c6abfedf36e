"""The checker framework, and every registered exercise: reference passes, typical mistakes get their hint."""

import pytest
import torch

from lmtutor.exercises import REGISTRY, Case, Exercise, Mistake, check, load_all, register

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
    assert res.status == "failed" and "Re-read the formula" in res.message


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

    check(_demo().name, mutating)
    assert check(_demo().name, lambda x: x.softmax(-1)).passed  # the case data was not modified


def test_grade_log_records_results(tmp_path, monkeypatch):
    log = tmp_path / "log.jsonl"
    monkeypatch.setenv("LMTUTOR_GRADE_LOG", str(log))
    check(_demo().name, lambda x: x.softmax(-1))
    assert '"status": "passed"' in log.read_text()


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
