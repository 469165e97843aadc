"""Cross-validate a grid of losses x optimizers and rank them.

This is what ``python -m sklearn_nnopt compare`` runs (the command line lives in
``sklearn_nnopt/__main__.py``); :func:`compare` is the same thing as a function:
it resolves the data (``_data``) and the grid (``_grid``), cross-validates each
candidate (``_run``) and returns the ranked :class:`CompareResult` (``_result``);
for the figures (``_plot``) and the HTML report (``_report``), each candidate
is then fit once more on the whole data for its training curve (``_run``).
"""

import time

# "name as name": re-exported here for __main__, the tests and the documentation.
from ._data import DATASETS as DATASETS
from ._data import TASKS as TASKS
from ._data import _infer_task as _infer_task
from ._data import load_data
from ._data import load_dataset as load_dataset
from ._data import read_csv as read_csv
from ._errors import CompareError as CompareError
from ._grid import default_losses as default_losses
from ._grid import default_optimizers as default_optimizers
from ._grid import resolve_alphas, resolve_grid
from ._plot import PLOT_MESSAGE as PLOT_MESSAGE
from ._plot import check_plot_path as check_plot_path
from ._plot import save_plot
from ._report import REPORT_MESSAGE as REPORT_MESSAGE
from ._report import check_report_path as check_report_path
from ._report import save_report
from ._result import CompareResult as CompareResult
from ._result import _rank
from ._run import check_settings, fit_curves, run_grid

__all__ = ["compare", "CompareResult", "CompareError", "DATASETS"]


def compare(
    X=None,
    y=None,
    *,
    dataset="breast_cancer",
    csv=None,
    target=None,
    task=None,
    losses=None,
    optimizers=None,
    learning_rates=None,
    alphas=None,
    cv=5,
    max_iter=200,
    random_state=0,
    n_jobs=None,
    plot=None,
    report=None,
    curves=False,
    verbose=True,
):
    """Cross-validate every loss x optimizer (x learning rate) and rank them.

    Each candidate is ``Pipeline([("scale", StandardScaler()), ("model",
    LinearNNClassifier or LinearNNRegressor)])`` with ``loss``, ``optimizer``
    and (when given) ``learning_rate_init`` set from the grid,
    ``max_iter=max_iter``, ``random_state=random_state`` and every other
    parameter at its default. Every candidate is scored on the same folds
    (``check_cv(cv, y, classifier=...)``) with the estimator's ``score``, each
    at its own best ``alpha`` (chosen inside each fold). The best candidate
    and those not significantly worse (a corrected paired t-test on the fold
    scores) share rank 1. Among them, of those that converged in every fold
    and fit within 2x of the fastest one's time, the best score is
    recommended. ``LogisticRegression()`` / ``Ridge()`` on the same
    folds is the reference.

    Parameters
    ----------
    X, y : array-like, optional
        Data to use. When omitted, ``dataset`` (or ``csv``) provides them.
    dataset : {"breast_cancer", "digits", "iris", "wine", "diabetes"}, \
            default="breast_cancer"
        A dataset bundled with scikit-learn (``sklearn.datasets.load_*``);
        ``diabetes`` is a regression problem, the others classification.
    csv : path-like, optional
        A CSV file with a header row (read with the :mod:`csv` module): the
        ``target`` column is ``y``, every other column a numeric feature. The
        target may hold strings (class labels).
    target : str, optional
        The target column of ``csv`` (required with it).
    task : {"classification", "regression"}, optional
        Inferred from ``y`` when None: binary or multiclass labels ->
        classification, continuous values -> regression (an integer-valued
        quantity looks like class labels: pass ``task="regression"``).
    losses : list of str or Loss, or "all", optional
        Default: ``default_losses(task)``, every registered loss of the task
        whose domain holds ``y``. ``"all"``: also the aliases' classes. A
        comma-separated string is accepted.
    optimizers : list of str or Optimizer, or "all", optional
        Default: ``default_optimizers()``, those registered with
        ``candidate=True``. ``"all"`` is every registered optimizer.
    learning_rates : list of float or "auto", optional
        ``learning_rate_init`` values to compare as a third grid axis; default:
        not searched (each optimizer's automatic step).
    alphas : list of float, optional
        The regularization strengths each candidate chooses from, in every
        fold, on an inner 80/20 split of the fold's training rows (nested
        cross-validation: the reported score does not flatter the choice).
        Default: 1e-5, 1e-4, 1e-3, 1e-2, 1e-1. Comparing every candidate at
        its own best alpha compares losses and optimizers, not which one
        happens to stop early enough to regularize.
    cv : int or cross-validation splitter, default=5
    max_iter : int, default=200
        Epochs (L-BFGS: iterations) per fit.
    random_state : int, default=0
        The estimators' ``random_state`` (minibatch shuffling).
    n_jobs : int, optional
        Candidates cross-validated in parallel (joblib); None is 1.
    plot : path-like, optional
        Save both figures in one image file, one above the other (the format
        from the extension: ``.png``, ``.svg``, ``.pdf``, ...): the mean score
        against the mean fit time per fold, one point per candidate
        (:meth:`CompareResult.plot_scores`), and the training curves, one
        panel per loss (:meth:`CompareResult.plot_curves`). Needs matplotlib
        (``pip install 'sklearn-nnopt[plot]'``).
    report : path-like, optional
        Write one self-contained HTML file (``.html``): the settings, the
        recommendation, the reference, the ranked table, the refused and
        failed candidates and both figures as embedded PNG images
        (:meth:`CompareResult.to_html`). Needs matplotlib.
    curves : bool, default=False
        Fit the training curves even without ``plot`` or ``report`` (for
        :meth:`CompareResult.plot_curves`). With any of the three, after the
        ranking, every candidate that did not fail is fit once more on the
        whole standardized data at its loss's alpha (the most frequent alpha
        of that loss's candidates, ties to the larger: objectives are
        comparable within one loss at one alpha), recording its
        ``loss_curve_`` and wall time. The
        cross-validated rows do not depend on it.
    verbose : bool, default=True
        Print one progress line per candidate to stderr.

    Returns
    -------
    CompareResult
        ``rows`` ranked (ties with the best first), ``best`` the recommended
        row, ``recommendation`` one line of code; ``str(result)`` is the table.

    Raises
    ------
    CompareError
        (a ``ValueError``) for an invalid argument or unreadable data.
    ImportError
        If ``plot`` or ``report`` is given and matplotlib is not installed.

    Examples
    --------
    >>> from sklearn_nnopt import compare
    >>> result = compare(dataset="iris", losses="log_loss,hinge",
    ...                  optimizers="adam,lbfgs", cv=2, max_iter=50, verbose=False)
    >>> len(result.rows), result.task, result.n_splits
    (4, 'classification', 2)
    >>> result.best["mean_score"] > 0.9, result.best["status"]
    (True, 'converged')
    >>> sorted(result.best["params"])
    ['alpha', 'loss', 'optimizer']
    """
    start = time.perf_counter()
    if plot is not None:
        check_plot_path(plot)  # fail before the work, not after
    if report is not None:
        check_report_path(report)
    X, y, task, data = load_data(
        X, y, dataset=dataset, csv=csv, target=target, task=task
    )
    # Called here, not in load_data: its warning's stacklevel=3 is compare's caller.
    task = _infer_task(y, task)
    grid = resolve_grid(losses, optimizers, learning_rates, task, y)
    alphas = resolve_alphas(alphas)
    check_settings(max_iter, cv, n_jobs)
    rows, sizes, reference = run_grid(
        grid,
        X,
        y,
        task=task,
        cv=cv,
        max_iter=max_iter,
        random_state=random_state,
        n_jobs=n_jobs,
        data=data,
        verbose=verbose,
        alphas=alphas,
    )
    _check_something_ran(rows)
    result = CompareResult(
        rows=_rank(rows, sizes),
        task=task,
        scoring="accuracy" if task == "classification" else "R^2",
        data=data,
        n_splits=len(sizes),
        sizes=sizes,
        max_iter=max_iter,
        alphas=list(alphas),
        reference=reference,
        show_learning_rate=grid.learning_rates is not None,
        notes=grid.notes(),
    )
    if curves or plot is not None or report is not None:
        result.curve_alphas = fit_curves(
            result.rows,
            X,
            y,
            task=task,
            max_iter=max_iter,
            random_state=random_state,
            n_jobs=n_jobs,
            verbose=verbose,
        )
    result.elapsed = time.perf_counter() - start
    if plot is not None:
        save_plot(plot, result)
        result.plot = str(plot)
    if report is not None:
        save_report(report, result)
        result.report = str(report)
    result.elapsed = time.perf_counter() - start
    return result


def _check_something_ran(rows):
    """Raise :class:`CompareError` when every candidate failed or was refused.

    Then the data, not a candidate, is the problem (NaN in X, a single class
    in a fold, a target outside every loss's domain): one error saying so,
    not a table of failures and a "no recommendation".
    """
    if any(row["scores"] for row in rows):
        return
    failed = [row for row in rows if row["status"].startswith("failed")]
    if not failed:
        raise CompareError("every candidate was refused by the estimator")
    first = failed[0]
    raise CompareError(
        f"every candidate failed; the first, {first['loss']} x "
        f"{first['optimizer']}, with {first['status'].removeprefix('failed: ')}"
    )
