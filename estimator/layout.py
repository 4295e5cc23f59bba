"""Layouts of GPUs as the grammar writes them back (``gpus=8 dp=3``) and as sentences name them."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the engines import this module, and the result imports the engines
    from estimator.query import Query
    from estimator.result import Fit


def layout_words(tp: int, pp: int, dp: int) -> str:
    """``3 replicas of tp=8``: a data-parallel layout in words."""
    group = f"tp={tp}" + (f" x pp={pp}" if pp > 1 else "")
    return f"{dp} replicas of {group}" if dp > 1 else group


def fewest_settings(fit: Fit, query: Query) -> str:
    """The settings that ask for the fit's fewest layout, with the util it is sized at where the
    query's own does not start there (``gpus=2 util=0.98``)."""
    settings = layout_settings(fit.min_gpus, fit.min_gpus_dp, asked_dp=query.dp)
    return settings + (f" util={fit.min_gpus_util:g}" if fit.min_gpus_util is not None else "")


def layout_settings(tp: int, dp: int, *, asked_dp: int = 1) -> str:
    """The settings that ask for a layout: ``gpus=8`` or ``gpus=8 dp=3``. Applied as a what-if they
    keep every other setting of the query, its dp= too: ``dp=1`` is said where the query had replicas
    and the layout has none."""
    return f"gpus={tp}" + (f" dp={dp}" if dp > 1 or dp != asked_dp else "")
