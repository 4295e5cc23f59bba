"""A small memo for functions of a model spec (or of its layer tuple), keyed by that object's identity.

``functools.lru_cache`` hashes its arguments at every call, and a frozen pydantic model hashes all
its fields, nested ones included: for a model's spec that is tens of microseconds, about what some
of the cached functions cost, at every probe of the solvers. One estimate reuses the same spec
object throughout, so its identity is the key (the entry keeps the spec alive, so an id is never
reused while its entry stands); the other arguments are hashed as usual.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from contextlib import suppress
from functools import wraps
from typing import Concatenate, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S")


def by_spec(size: int = 64) -> Callable[[Callable[Concatenate[S, P], R]], Callable[Concatenate[S, P], R]]:
    """Memoize ``fn(spec, *args, **kwargs)`` on the first argument's identity (a spec, or a layer tuple
    that copies of a spec share) and the other arguments' values, keeping the ``size`` newest entries."""

    def decorate(fn: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
        # Threads of the Slack pool share it: each of the calls below is one atomic C call, so no
        # thread sees a dict changing size under an iterator (next(iter(d)) could).
        entries: OrderedDict[tuple[object, ...], tuple[S, R]] = OrderedDict()

        @wraps(fn)
        def memoized(spec: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
            key = (id(spec), args, tuple(sorted(kwargs.items())))
            hit = entries.get(key)
            if hit is not None and hit[0] is spec:
                return hit[1]
            value = fn(spec, *args, **kwargs)
            if len(entries) >= size:
                with suppress(KeyError):  # another thread may have emptied it meanwhile
                    entries.popitem(last=False)  # the oldest
            entries[key] = (spec, value)
            return value

        memoized.cache_clear = entries.clear  # type: ignore[attr-defined]
        return memoized

    return decorate
