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


def test_threads_sharing_the_memo_never_see_it_change_under_them() -> None:
    # The Slack pool's workers share every memo: many threads inserting past its size at once must
    # only ever get their own values (next(iter(dict)) raced here with "dictionary changed size").
    from concurrent.futures import ThreadPoolExecutor

    @by_spec(size=4)
    def f(spec: Spec, k: int) -> int:
        return spec.n * 1000 + k

    specs = [Spec(i) for i in range(8)]

    def work(i: int) -> bool:
        return all(f(specs[i % 8], k) == (i % 8) * 1000 + k for k in range(2000))

    import sys

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, so a race shows within the test
    try:
        with ThreadPoolExecutor(8) as pool:
            assert all(pool.map(work, range(32)))
    finally:
        sys.setswitchinterval(interval)
