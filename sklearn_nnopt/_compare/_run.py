"""Running ``compare``: cross-validate each candidate, record how it went."""

import math
import numbers
import sys
import time
import warnings

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import check_cv, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.parallel import Parallel, delayed
from threadpoolctl import threadpool_limits

from ._errors import CompareError
from ._grid import ESTIMATORS, _label


def check_settings(max_iter, cv, n_jobs):
    """Raise :class:`CompareError` for an invalid ``max_iter``, ``cv`` or ``n_jobs``."""
    if not (isinstance(max_iter, numbers.Integral) and max_iter >= 1):
        raise CompareError(f"max_iter must be an int >= 1; got {max_iter!r}")
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool) and cv < 2:
        raise CompareError(f"cv must be >= 2; got {cv!r}")
    if n_jobs is not None and not (
        isinstance(n_jobs, numbers.Integral) and not isinstance(n_jobs, bool) and n_jobs
    ):
        raise CompareError(f"n_jobs must be None or a non-zero int; got {n_jobs!r}")


def run_grid(
    grid, X, y, *, task, cv, max_iter, random_state, n_jobs, curves, data, verbose
):
    """Cross-validate every candidate of ``grid``.

    Returns the rows of :class:`CompareResult` in grid order (not yet ranked) and
    the number of folds. ``curves``: also record each candidate's
    ``loss_curve_`` on the whole data; ``data`` names the data in the progress
    lines, printed to stderr if ``verbose``.
    """
    Model = ESTIMATORS[task]
    pipe = Pipeline(
        [
            ("scale", StandardScaler()),
            ("model", Model(max_iter=max_iter, random_state=random_state)),
        ]
    )
    candidates = grid.candidates()
    try:
        splitter = check_cv(cv, y, classifier=is_classifier(pipe))
        splits = list(splitter.split(X, y))
    except ValueError as exc:
        raise CompareError(f"cv={cv!r}: {exc}") from None
    rates = grid.learning_rates
    _progress(
        f"Cross-validating {_count(len(candidates), 'candidate')} "
        f"({_count(len(grid.losses), 'loss')} x "
        f"{_count(len(grid.optimizers), 'optimizer')}"
        + (f" x {_count(len(rates), 'learning rate')}" if rates is not None else "")
        + f") with {len(splits)} folds each on {data} ...",
        verbose,
    )
    results = _run_all(
        pipe, candidates, X, y, splits, n_jobs, curves, verbose, grid.describe
    )
    rows = [
        _row(index, params, result)
        for index, (params, result) in enumerate(zip(candidates, results, strict=True))
    ]
    return rows, len(splits)


def _run_all(pipe, candidates, X, y, splits, n_jobs, curves, verbose, describe):
    """:func:`_evaluate` each candidate (in parallel with ``n_jobs``), in order.

    Prints a progress line per finished candidate (``describe(params)`` names it).
    """
    jobs = (
        delayed(_evaluate)(i, clone(pipe).set_params(**params), X, y, splits, curves)
        for i, params in enumerate(candidates)
    )
    n = len(candidates)
    results = [None] * n
    parallel = Parallel(
        n_jobs=n_jobs, prefer="processes", return_as="generator_unordered"
    )
    for done, result in enumerate(parallel(jobs), 1):
        results[result["index"]] = result
        params = candidates[result["index"]]
        if result["error_type"] is not None:
            outcome = f"failed: {result['error_type']} ({result['time']:.1f} s)"
        else:
            outcome = f"{np.mean(result['scores']):.3f} ({result['time']:.1f} s"
            outcome += ", not converged)" if result["not_converged"] else ")"
        _progress(f"[{done}/{n}] {describe(params)} ... {outcome}", verbose)
    return results


def _row(index, params, result):
    """The :class:`CompareResult` row of one candidate, from its evaluation."""
    failed = result["error_type"] is not None
    scores = [] if failed else result["scores"]
    if failed:
        status = f"failed: {result['error_type']}"
    elif result["not_converged"]:
        status = "not converged"
    else:
        status = "ok"
    return {
        "rank": None,
        "index": index,
        "loss": _label(params["model__loss"]),
        "optimizer": _label(params["model__optimizer"]),
        "learning_rate": params.get("model__learning_rate_init", "auto"),
        "mean_score": float(np.mean(scores)) if scores else math.nan,
        "std_score": float(np.std(scores)) if scores else math.nan,
        "scores": scores,
        "mean_fit_time": math.nan if failed else float(np.mean(result["fit_times"])),
        "mean_n_iter": math.nan if failed else float(np.mean(result["n_iter"])),
        "not_converged_folds": 0 if failed else int(result["not_converged"]),
        "status": status,
        "error": result["error"],
        "params": params,
        "loss_curve": result["curve"],
    }


def _evaluate(index, estimator, X, y, splits, curve):
    """Cross-validate one candidate (runs in a joblib worker with ``n_jobs``).

    Warnings are recorded here, inside the process that fits, so that
    ``ConvergenceWarning`` is seen with process-based joblib backends (loky, the
    default, multiprocessing, dask). ``warnings.catch_warnings`` is not
    thread-safe: under a forced ``threading`` backend the flags may be wrong.
    """
    start = time.perf_counter()
    result = {"index": index, "error": None, "error_type": None, "curve": None}
    # These products are tiny: multi-threaded BLAS only adds overhead, and
    # L-BFGS-B's small BLAS calls slow down by 10-50x on a busy machine.
    with threadpool_limits(limits=1, user_api="blas"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                # error_score="raise": a failed fold makes the candidate's mean
                # nan in GridSearchCV(error_score=np.nan) anyway; raising keeps
                # the exception's type (cross_validate would turn it into text,
                # or into a ValueError when every fold fails).
                cv = cross_validate(
                    estimator,
                    X,
                    y,
                    cv=splits,
                    error_score="raise",
                    return_train_score=False,
                    return_estimator=True,
                )
            except Exception as exc:  # reported, not raised
                cv = None
                result["error_type"] = type(exc).__name__
                result["error"] = str(exc).strip().splitlines()[0] if str(exc) else ""
        if cv is not None:
            result["scores"] = [float(s) for s in cv["test_score"]]
            result["fit_times"] = [float(t) for t in cv["fit_time"]]
            result["n_iter"] = [
                float(getattr(est[-1], "n_iter_", np.nan)) for est in cv["estimator"]
            ]
        result["not_converged"] = sum(
            issubclass(w.category, ConvergenceWarning) for w in caught
        )
        if curve:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    fitted = clone(estimator).fit(X, y)
                    result["curve"] = [float(v) for v in fitted[-1].loss_curve_]
                except Exception:  # that curve is left out
                    result["curve"] = None
    result["time"] = time.perf_counter() - start
    return result


def _count(n, word):
    plural = word + ("es" if word.endswith("s") else "s")
    return f"{n} {word if n == 1 else plural}"


def _progress(message, verbose):
    if verbose:
        print(message, file=sys.stderr, flush=True)
