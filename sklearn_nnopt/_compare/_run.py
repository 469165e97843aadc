"""Running ``compare``: cross-validate each candidate, record how it went."""

import math
import numbers
import sys
import time
import warnings

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import (
    ShuffleSplit,
    StratifiedShuffleSplit,
    check_cv,
    cross_validate,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.parallel import Parallel, delayed
from threadpoolctl import threadpool_limits

from .._classifier import _one_hot
from ..losses import targets_for
from ._errors import CompareError
from ._grid import ESTIMATORS, _label

#: The alphas each candidate chooses from (``compare(alphas=...)``): the
#: estimators' default 1e-4 and a decade either way up to 0.1. For the
#: standardized bundled data, ``LogisticRegression()``'s C=1 is alpha = 1 /
#: n_samples, 2e-3 on breast_cancer.
DEFAULT_ALPHAS = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)


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
    grid,
    X,
    y,
    *,
    task,
    cv,
    max_iter,
    random_state,
    n_jobs,
    data,
    verbose,
    alphas=DEFAULT_ALPHAS,
):
    """Cross-validate every candidate of ``grid``, each at its own best alpha.

    Every candidate sees the same outer folds. In each fold, ``alpha`` is
    chosen from ``alphas`` on one stratified 80/20 split of the fold's
    training rows (the best validation score; ties go to the larger alpha),
    then the candidate is refit on all of the fold's training rows and scored
    on its test rows: nested cross-validation, so that the score does not
    flatter the choice.

    Returns the rows of :class:`CompareResult` in grid order (not yet ranked),
    the folds' ``(n_train, n_test)`` sizes, and the reference's fold scores
    (``LogisticRegression()`` or ``Ridge()``, same folds and scaler).
    ``data`` names the data in the progress lines, printed to stderr if
    ``verbose``.
    """
    pipe = _pipeline(task, max_iter, random_state)
    points = grid.refusals()  # [(point, reason or None)], in grid order
    candidates = [point for point, reason in points if reason is None]
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
        + f"), each at its best of {_count(len(alphas), 'alpha')}, with "
        f"{len(splits)} folds on {data} ...",
        verbose,
    )
    settings = dict(alphas=alphas, random_state=random_state)
    results = _run_all(
        pipe, candidates, X, y, splits, n_jobs, verbose, grid.describe, settings
    )
    # In grid order (``index``: the position in the grid), refused points too.
    evaluated = iter(results)
    rows = [
        _refused_row(index, point, reason)
        if reason is not None
        else _row(index, point, next(evaluated))
        for index, (point, reason) in enumerate(points)
    ]
    sizes = [(len(train), len(test)) for train, test in splits]
    return rows, sizes, _reference(task, X, y, splits)


def _pipeline(task, max_iter, random_state):
    """``Pipeline([("scale", StandardScaler()), ("model", estimator)])``."""
    Model = ESTIMATORS[task]
    return Pipeline(
        [
            ("scale", StandardScaler()),
            ("model", Model(max_iter=max_iter, random_state=random_state)),
        ]
    )


def _reference(task, X, y, splits):
    """``LogisticRegression()`` / ``Ridge()`` fold scores, scaled the same way."""
    model = LogisticRegression() if task == "classification" else Ridge()
    pipe = Pipeline([("scale", StandardScaler()), ("model", model)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with threadpool_limits(limits=1, user_api="blas"):
            try:
                cv = cross_validate(pipe, X, y, cv=splits, error_score="raise")
            except Exception:  # a reference that fails is left out
                return None
    return {
        "name": f"{type(model).__name__}()",
        "scores": [float(v) for v in cv["test_score"]],
        "mean_fit_time": float(np.mean(cv["fit_time"])),
    }


def _run_all(pipe, candidates, X, y, splits, n_jobs, verbose, describe, settings):
    """:func:`_evaluate` each candidate (in parallel with ``n_jobs``), in order.

    Prints a progress line per finished candidate (``describe(params)`` names it).
    """
    jobs = (
        delayed(_evaluate)(
            i, clone(pipe).set_params(**params), X, y, splits, **settings
        )
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


def _plain(params):
    """Grid-point parameters as the estimator names them (no ``model__``)."""
    return {key.removeprefix("model__"): value for key, value in params.items()}


def _chosen_alpha(alphas):
    """The alpha chosen in most folds (ties: the larger, the simpler model)."""
    values, counts = np.unique(np.asarray(alphas, dtype=float), return_counts=True)
    best = np.flatnonzero(counts == counts.max())
    return float(values[best[-1]])


#: A row's curve keys before :func:`fit_curves` (and for failed candidates).
_NO_CURVE = {
    "loss_curve": None,
    "curve_time": None,
    "curve_alpha": math.nan,
    "curve_converged": None,
}


def _unrun_row(index, params):
    """A row with no scores yet: what a refused or failed candidate shows."""
    return {
        "rank": None,
        "index": index,
        "loss": _label(params["model__loss"]),
        "optimizer": _label(params["model__optimizer"]),
        "learning_rate": params.get("model__learning_rate_init", "auto"),
        "alpha": math.nan,
        "alphas": [],
        "mean_score": math.nan,
        "std_score": math.nan,
        "scores": [],
        "mean_fit_time": math.nan,
        "mean_n_iter": math.nan,
        "not_converged_folds": 0,
        "converged": False,
        "status": None,
        "error": None,
        "params": _plain(params),
        "grid_params": params,
        "tied": False,
        "p_value": math.nan,
        **_NO_CURVE,
    }


def _row(index, params, result):
    """The :class:`CompareResult` row of one candidate, from its evaluation."""
    row = _unrun_row(index, params)
    if result["error_type"] is not None:
        status = f"failed: {result['error_type']}"
        if result["error"]:
            status += f": {result['error']}"
        row.update(status=status, error=result["error"])
        return row
    scores, not_converged = result["scores"], int(result["not_converged"])
    if not_converged:
        n_folds = len(result["converged"])
        status = f"not converged ({not_converged}/{n_folds} folds)"
    else:
        status = "converged"
    alpha = _chosen_alpha(result["alphas"])
    row.update(
        alpha=alpha,
        alphas=result["alphas"],
        mean_score=float(np.mean(scores)),
        std_score=float(np.std(scores)),
        scores=scores,
        mean_fit_time=float(np.mean(result["fit_times"])),
        mean_n_iter=float(np.mean(result["n_iter"])),
        not_converged_folds=not_converged,
        converged=not_converged == 0,
        status=status,
    )
    row["params"]["alpha"] = alpha
    return row


def _refused_row(index, params, reason):
    """A row for a grid point the estimator refuses: listed, not ranked."""
    row = _unrun_row(index, params)
    row.update(status=f"refused: {reason}", error=reason)
    return row


def _inner_split(estimator, X, y, train, random_state):
    """One 80/20 split of the rows ``train`` (stratified where it can be)."""
    if is_classifier(estimator):
        try:
            splitter = StratifiedShuffleSplit(
                n_splits=1, test_size=0.2, random_state=random_state
            )
            inner, val = next(splitter.split(train, _take(y, train)))
            return train[inner], train[val]
        except ValueError:  # a class with a single row in this fold
            pass
    splitter = ShuffleSplit(n_splits=1, test_size=0.2, random_state=random_state)
    inner, val = next(splitter.split(train))
    return train[inner], train[val]


def _take(a, rows):
    return a.iloc[rows] if hasattr(a, "iloc") else a[rows]


def _fit_score(estimator, X, y, fit_rows, score_rows):
    """Fit on ``fit_rows``, score on ``score_rows``: (score, seconds, warned)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        estimator.fit(_take(X, fit_rows), _take(y, fit_rows))
        seconds = time.perf_counter() - start
    warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    score = float(estimator.score(_take(X, score_rows), _take(y, score_rows)))
    return score, seconds, warned


def _validation_loss(pipe, X, y):
    """Mean training loss (the candidate's own ``loss``) of a fitted pipeline."""
    model = pipe[-1]
    raw = model._raw(pipe[:-1].transform(X))
    loss = model.loss_function_
    if hasattr(model, "classes_"):
        idx = np.searchsorted(model.classes_, np.asarray(y))
        Y = _one_hot(idx, len(model.classes_), raw.dtype, loss)
    else:
        Y = np.asarray(y, dtype=raw.dtype).reshape(len(raw), -1)
    with np.errstate(all="ignore"):
        Y = targets_for(loss, "loss_gradient", Y)
        return float(np.mean(loss.loss(Y, raw)))


def _select_alpha(estimator, X, y, train, alphas, random_state):
    """The alpha of the lowest validation loss on an inner split of ``train``.

    The validation loss is the candidate's own loss (log loss, hinge, squared
    error, ...) on the held-out fifth: continuous, where accuracy on a few
    dozen rows moves in steps of 1 / n_val and ties or flips at random. On the
    five bundled datasets, choosing by accuracy (ties to the larger alpha)
    picked alpha=0.1 for most candidates and left log_loss x newton 0.007
    below LogisticRegression() on breast_cancer; by the loss, 0.002 below.
    Ties go to the better score, then to the smaller alpha.
    """
    if len(alphas) == 1:
        return alphas[0]
    inner, val = _inner_split(estimator, X, y, train, random_state)
    best, best_key, error = None, None, None
    for alpha in alphas:
        model = clone(estimator).set_params(model__alpha=alpha)
        try:
            score, _, _ = _fit_score(model, X, y, inner, val)
            loss = _validation_loss(model, _take(X, val), _take(y, val))
        except Exception as exc:  # this alpha fails; another may not
            error = exc
            continue
        key = (-loss if math.isfinite(loss) else -np.inf, score)
        if best_key is None or key > best_key:
            best, best_key = alpha, key
    if best is None:
        raise error
    return best


def _evaluate(index, estimator, X, y, splits, *, alphas, random_state):
    """Cross-validate one candidate (runs in a joblib worker with ``n_jobs``).

    Warnings are recorded here, inside the process that fits, so that
    ``ConvergenceWarning`` is seen with process-based joblib backends (loky, the
    default, multiprocessing, dask). ``warnings.catch_warnings`` is not
    thread-safe: under a forced ``threading`` backend the flags may be wrong.
    A fold's convergence is its refit's (the alpha selection's fits are only
    compared).
    """
    start = time.perf_counter()
    result = {"index": index, "error": None, "error_type": None}
    alphas = sorted(float(a) for a in alphas)
    # These products are tiny: multi-threaded BLAS only adds overhead, and
    # L-BFGS-B's small BLAS calls slow down by 10-50x on a busy machine.
    with threadpool_limits(limits=1, user_api="blas"):
        fold = {"scores": [], "fit_times": [], "n_iter": [], "alphas": []}
        fold["converged"] = []
        try:
            for train, test in splits:
                alpha = _select_alpha(estimator, X, y, train, alphas, random_state)
                model = clone(estimator).set_params(model__alpha=alpha)
                score, seconds, warned = _fit_score(model, X, y, train, test)
                fold["scores"].append(score)
                fold["fit_times"].append(seconds)
                fold["n_iter"].append(float(getattr(model[-1], "n_iter_", np.nan)))
                fold["alphas"].append(alpha)
                fold["converged"].append(not warned)
        except Exception as exc:  # reported, not raised
            result["error_type"] = type(exc).__name__
            result["error"] = str(exc).strip().splitlines()[0] if str(exc) else ""
        result.update(fold)
        result["not_converged"] = fold["converged"].count(False)
    result["time"] = time.perf_counter() - start
    return result


def loss_alphas(rows):
    """Each loss's alpha for the training curves: ``{loss: alpha}``.

    The most frequent of the ``alpha`` column (each candidate's alpha chosen
    in most folds) over that loss's candidates that did not fail; ties go to
    the larger. Losses whose candidates all failed are left out. Objectives
    are comparable within one loss at one alpha, not across losses or alphas.
    """
    pooled = {}
    for row in rows:
        if math.isfinite(row["mean_score"]):
            pooled.setdefault(row["loss"], []).append(row["alpha"])
    return {loss: _chosen_alpha(alphas) for loss, alphas in pooled.items()}


def fit_curves(rows, X, y, *, task, max_iter, random_state, n_jobs, verbose):
    """Fit each candidate that did not fail once on the whole data, for its curve.

    Each at its loss's alpha (:func:`loss_alphas`), in the cross-validation's
    pipeline (StandardScaler + model). Sets the rows' ``loss_curve`` (the
    fit's ``loss_curve_``), ``curve_time`` (its wall time in seconds),
    ``curve_alpha`` and ``curve_converged`` (no ``ConvergenceWarning``); a fit
    that raises leaves ``loss_curve`` None. Runs after the ranking, so that
    the cross-validated rows do not depend on it. Returns :func:`loss_alphas`.
    """
    alphas = loss_alphas(rows)
    todo = [r for r in rows if r["loss"] in alphas and math.isfinite(r["mean_score"])]
    if not todo:
        return alphas
    _progress(
        f"Fitting {_count(len(todo), 'candidate')} once on the whole data for the "
        f"training curves, at each loss's alpha ("
        + ", ".join(f"{loss} {alpha:g}" for loss, alpha in alphas.items())
        + ") ...",
        verbose,
    )
    pipe = _pipeline(task, max_iter, random_state)
    jobs = (
        delayed(_curve)(
            clone(pipe).set_params(
                **row["grid_params"], model__alpha=alphas[row["loss"]]
            ),
            X,
            y,
        )
        for row in todo
    )
    results = Parallel(n_jobs=n_jobs, prefer="processes")(jobs)
    for row, (curve, seconds, converged) in zip(todo, results, strict=True):
        row["loss_curve"] = curve
        row["curve_time"] = seconds
        row["curve_alpha"] = alphas[row["loss"]]
        row["curve_converged"] = converged
    return alphas


def _curve(estimator, X, y):
    """Fit ``estimator`` on all of X, y: (loss_curve_, seconds, converged).

    ``(None, None, None)`` if the fit raises (that curve is left out).
    """
    with threadpool_limits(limits=1, user_api="blas"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                start = time.perf_counter()
                estimator.fit(X, y)
                seconds = time.perf_counter() - start
            except Exception:
                return None, None, None
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return [float(v) for v in estimator[-1].loss_curve_], seconds, converged


def _count(n, word):
    plural = word + ("es" if word.endswith("s") else "s")
    return f"{n} {word if n == 1 else plural}"


def _progress(message, verbose):
    if verbose:
        print(message, file=sys.stderr, flush=True)
