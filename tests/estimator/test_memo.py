"""The spec-identity memo: a hit only for the same spec object and equal other arguments."""

from __future__ import annotations

from estimator.memo import by_spec


class Spec:
    """Stands for a model spec: compared by value, as the frozen pydantic models are."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Spec) and other.n == self.n

    def __hash__(self) -> int:
        raise AssertionError("the memo must not hash the spec")


def test_the_memo_keys_on_the_specs_identity_and_the_arguments() -> None:
    calls: list[tuple[int, int, bool]] = []

    @by_spec(size=2)
    def f(spec: Spec, tp: int, *, vision: bool = True) -> int:
        calls.append((spec.n, tp, vision))
        return spec.n * 100 + tp

    a, b = Spec(1), Spec(1)
    assert f(a, 2) == 102 and f(a, 2) == 102 and len(calls) == 1  # the same object: one call
    assert f(b, 2) == 102 and len(calls) == 2  # an equal but other object: computed again
    assert f(a, 2, vision=False) == 102 and len(calls) == 3  # another keyword: another entry
    # Two entries at most: the oldest (a, 2) went when (a, 2, vision=False) came in.
    assert f(a, 2) == 102 and len(calls) == 4
    f.cache_clear()  # type: ignore[attr-defined]
    assert f(a, 2) == 102 and len(calls) == 5
