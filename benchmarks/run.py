"""Benchmark sklearn_nnopt against its floor, its peers and the exact solvers.

Usage::

    python benchmarks/run.py                      # full run (several minutes)
    python benchmarks/run.py --quick              # smoke run, 1/10 of the rows
    python benchmarks/run.py --datasets dense_binary sparse_binary
    python benchmarks/run.py --out my.json --markdown benchmarks/RESULTS.md

For each dataset (see ``_data.py``), in one process:

* per epoch: ``fit(max_iter=E, tol=None) / E`` for our estimators and the
  peers (``SGDClassifier``/``SGDRegressor``, ``MLP*(hidden_layer_sizes=())``),
  against the *floor*: shuffled minibatch gathering plus one forward and one
  backward product per batch (and the same over contiguous slices);
* time to target: wall time (``partial_fit`` epoch by epoch, scoring off the
  clock; L-BFGS: the fit with the fewest iterations) until the test score is
  within 1% of the matched exact solver's, and that solver's fit time;
* final fits with default settings (stochastic methods capped in epochs): the
  objective gap to the optimum and the test score;
* peak extra memory of a (short) fit, as a fraction of X's bytes;
* classification: our L-BFGS to ``LogisticRegression(lbfgs)``'s objective.

Timings are medians over repetitions run round-robin over the estimators.
BLAS threading and ``OPENBLAS_*`` variables are left as they are (recorded).
"""

import argparse
import json
import os
import shlex
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from _data import DATASETS, make_dataset
from _estimators import (
    BATCH,
    DEFAULT_BATCH,
    PEER_SGD_ETA0,
    mlp_peer,
    objective,
    ours,
    reference,
    reference_name,
    sgd_peer,
    sgd_peer_name,
)
from _measure import (
    EpochByEpoch,
    FewestIterations,
    first_reaching,
    floor_time,
    interleaved,
    median,
    peak_memory,
    timed,
)
from _report import dataset_tables, machine_info, render_markdown, render_text
from sklearn.exceptions import ConvergenceWarning

HERE = Path(__file__).resolve().parent
SCORE_TOLERANCE = 0.01  # time to target: within 1% (relative) of the reference
LBFGS_TOLERANCE = 1e-6  # L-BFGS: within 1e-6 (relative) of LogisticRegression
TIGHT_TOL = 1e-10


@dataclass(frozen=True)
class Settings:
    """Sizes and budgets of a run."""

    scale: float = 1.0  # fraction of each dataset's rows
    epochs: int = 10  # epochs per timed fit (per-epoch times)
    repeats: int = 3  # interleaved repetitions (median)
    max_epochs: int = 30  # time to target: epoch budget
    max_iter_lbfgs: int = 500  # L-BFGS: iteration budget
    final_max_iter: int = 50  # final fits: epoch cap of the stochastic methods
    memory_epochs: int = 2  # memory: epochs of the traced fit


QUICK = Settings(scale=0.1, epochs=5, max_epochs=15, final_max_iter=20)


# ---------------------------------------------------------------- sections
def reference_optimum(data):
    """The optimum ``f_opt``: a tightly converged reference fit's objective."""
    estimator = reference(data.task, data.X_train.shape[0])
    if data.task == "classification":
        estimator.set_params(tol=TIGHT_TOL, max_iter=10_000)
    estimator.fit(data.X_train, data.y_train)
    return _evaluate(estimator, data)


def _evaluate(estimator, data):
    """Training objective and test score of a fitted estimator."""
    return {
        "objective": objective(estimator, data.X_train, data.y_train, data.classes),
        "score": float(estimator.score(data.X_test, data.y_test)),
    }


def _fit_runner(make, data):
    """Runner timing ``make().fit(X_train, y_train)``."""
    return lambda: timed(lambda: make().fit(data.X_train, data.y_train))


def _floor_runner(data, epochs, batch_size, shuffle):
    return lambda: floor_time(
        data.X_train,
        n_outputs=data.n_outputs,
        batch_size=batch_size,
        epochs=epochs,
        shuffle=shuffle,
    )


def per_epoch_runners(data, epochs):
    """Runners of the per-epoch section and the floor each one is compared to."""
    task = data.task

    def our_fit(optimizer, batch_size):
        return _fit_runner(
            lambda: ours(
                task,
                optimizer=optimizer,
                batch_size=batch_size,
                max_iter=epochs,
                tol=None,
            ),
            data,
        )

    def mlp_fit(solver):
        return _fit_runner(
            lambda: mlp_peer(
                task,
                solver=solver,
                max_iter=epochs,
                tol=0,
                n_iter_no_change=epochs + 1,
            ),
            data,
        )

    floor, contiguous = f"floor @{BATCH}", f"floor @{BATCH} contiguous"
    floor_default = f"floor @{DEFAULT_BATCH}"
    runners = {
        floor: _floor_runner(data, epochs, BATCH, True),
        contiguous: _floor_runner(data, epochs, BATCH, False),
        floor_default: _floor_runner(data, epochs, DEFAULT_BATCH, True),
        f"ours adam @{BATCH}": our_fit("adam", BATCH),
        f"ours sgd @{BATCH}": our_fit("sgd", BATCH),
        f"ours momentum @{BATCH}": our_fit("momentum", BATCH),
        f"ours adam @auto={DEFAULT_BATCH}": our_fit("adam", "auto"),
        f"ours sgd @auto={DEFAULT_BATCH}": our_fit("sgd", "auto"),
        sgd_peer_name(task): _fit_runner(
            lambda: sgd_peer(
                task,
                max_iter=epochs,
                tol=None,
                learning_rate="constant",
                eta0=PEER_SGD_ETA0[task],
            ),
            data,
        ),
        f"MLP adam @{BATCH}": mlp_fit("adam"),
        f"MLP sgd @{BATCH}": mlp_fit("sgd"),
    }
    floors = {name: floor for name in runners}
    floors.update({name: floor_default for name in runners if "auto" in name})
    floors[floor_default] = floor_default
    return runners, floors


def per_epoch(data, settings):
    """Seconds per epoch (median), each row with the floor it is compared to."""
    runners, floors = per_epoch_runners(data, settings.epochs)
    times = interleaved(runners, settings.repeats)
    return {
        "epochs": settings.epochs,
        "repeats": settings.repeats,
        "seconds_per_epoch": {
            name: median(t) / settings.epochs for name, t in times.items()
        },
        "floor_of": floors,
        "fit_seconds": times,
        "mlp": f"MLP adam @{BATCH}",
        "sgd_peer": sgd_peer_name(data.task),
    }


def _lbfgs_to_score(data, target, max_iter):
    """Our L-BFGS runner: the fit with the fewest iterations reaching ``target``."""

    def make(k):
        return ours(data.task, optimizer="lbfgs", max_iter=k)

    def reached(k):
        estimator = make(k).fit(data.X_train, data.y_train)
        return estimator.score(data.X_test, data.y_test) >= target

    return FewestIterations(make, data, lambda: first_reaching(reached, max_iter))


def time_to_target_runners(data, settings, target):
    """Runners of the time-to-target section (the reference last)."""
    task = data.task

    def epochs(make):
        return EpochByEpoch(make, data, target, settings.max_epochs)

    return {
        "ours (default)": epochs(lambda: ours(task)),
        "ours sgd": epochs(lambda: ours(task, optimizer="sgd")),
        "ours lbfgs": _lbfgs_to_score(data, target, settings.max_iter_lbfgs),
        sgd_peer_name(task) + " (default)": epochs(lambda: sgd_peer(task)),
        f"MLP adam @{BATCH}": epochs(lambda: mlp_peer(task, solver="adam")),
        reference_name(task): _fit_runner(
            lambda: reference(task, data.X_train.shape[0]), data
        ),
    }


def _target_row(runner, times, data):
    """One row of the time-to-target section."""
    row = {"seconds": median(times), "times": times}
    if isinstance(runner, EpochByEpoch):
        summary = runner.summary()
        row["epochs"] = summary["epochs"]
        estimator = summary["estimator"]
    elif isinstance(runner, FewestIterations):
        row["iterations"] = runner.k
        estimator = runner.estimator
    else:
        return row
    row["reached"] = row["seconds"] is not None
    if estimator is not None:
        row.update(_evaluate(estimator, data))
    return row


def time_to_target(data, settings, reference_fit):
    """Wall time until the test score is within 1% of the reference solver's."""
    reference_score = reference_fit["score"]
    target = reference_score - SCORE_TOLERANCE * abs(reference_score)
    runners = time_to_target_runners(data, settings, target)
    times = interleaved(runners, settings.repeats)
    rows = {
        name: _target_row(runner, times[name], data) for name, runner in runners.items()
    }
    rows[reference_name(data.task)].update(reference_fit)
    return {
        "reference": reference_name(data.task),
        "reference_score": reference_score,
        "target": target,
        "rows": rows,
    }


def final_configurations(task, n_train, cap):
    """Default settings, stochastic methods capped at ``cap`` epochs."""
    return {
        "ours (default)": lambda: ours(task, max_iter=cap),
        "ours sgd": lambda: ours(task, optimizer="sgd", max_iter=cap),
        "ours lbfgs": lambda: ours(task, optimizer="lbfgs"),
        sgd_peer_name(task) + " (default)": lambda: sgd_peer(task, max_iter=cap),
        f"MLP adam @{BATCH}": lambda: mlp_peer(task, solver="adam", max_iter=cap),
        reference_name(task): lambda: reference(task, n_train),
    }


def _n_iter(estimator):
    n_iter = getattr(estimator, "n_iter_", None)
    return None if n_iter is None else int(np.max(n_iter))


def final_fits(data, settings):
    """One fit per configuration: time, epochs or iterations, score, objective."""
    configurations = final_configurations(
        data.task, data.X_train.shape[0], settings.final_max_iter
    )
    rows = {}
    for name, make in configurations.items():
        estimator = make()
        seconds = timed(lambda e=estimator: e.fit(data.X_train, data.y_train))
        rows[name] = {"seconds": seconds, "n_iter": _n_iter(estimator)}
        rows[name].update(_evaluate(estimator, data))
    return {"max_epochs": settings.final_max_iter, "rows": rows}


def memory_configurations(task, n_train, epochs):
    """Short fits: the peak of a fit is reached in its first epoch or iteration."""
    short = {"max_iter": epochs, "tol": None}
    mlp_short = {"max_iter": epochs, "tol": 0, "n_iter_no_change": epochs + 1}
    return {
        "ours (default)": lambda: ours(task, **short),
        f"ours adam @{BATCH}": lambda: ours(task, batch_size=BATCH, **short),
        "ours sgd": lambda: ours(task, optimizer="sgd", **short),
        "ours lbfgs": lambda: ours(task, optimizer="lbfgs", max_iter=5),
        sgd_peer_name(task): lambda: sgd_peer(task, **short),
        f"MLP adam @{BATCH}": lambda: mlp_peer(task, solver="adam", **mlp_short),
        reference_name(task): lambda: reference(task, n_train, **_short_ref(task)),
    }


def _short_ref(task):
    return {"max_iter": 5} if task == "classification" else {}


def memory(data, settings):
    """Peak traced allocation during a fit, in bytes and as a fraction of X's."""
    configurations = memory_configurations(
        data.task, data.X_train.shape[0], settings.memory_epochs
    )
    rows = {}
    for name, make in configurations.items():
        estimator = make()
        peak = peak_memory(lambda e=estimator: e.fit(data.X_train, data.y_train))
        rows[name] = {"peak_bytes": peak, "fraction_of_x": peak / data.x_bytes}
    return {"x_bytes": data.x_bytes, "epochs": settings.memory_epochs, "rows": rows}


def _iterations_to_objective(data, target, max_iter):
    """Fewest L-BFGS iterations to ``target``, or None.

    Read from the loss curves of fits with doubling iteration budgets (an
    iterate does not depend on the budget).
    """
    budget = 16
    while True:
        estimator = ours(data.task, optimizer="lbfgs", tol=TIGHT_TOL, max_iter=budget)
        curve = np.asarray(estimator.fit(data.X_train, data.y_train).loss_curve_)
        below = np.flatnonzero(curve <= target)
        if len(below):
            return int(below[0]) + 1
        if budget >= max_iter or len(curve) < budget:  # out of budget, or converged
            return None
        budget = min(2 * budget, max_iter)


def lbfgs_vs_logistic(data, settings):
    """Time for our L-BFGS to reach LogisticRegression's final objective."""
    n_train = data.X_train.shape[0]
    logistic = reference(data.task, n_train).fit(data.X_train, data.y_train)
    logistic_objective = objective(logistic, data.X_train, data.y_train, data.classes)
    target = logistic_objective * (1 + LBFGS_TOLERANCE)
    ours_runner = FewestIterations(
        lambda k: ours(data.task, optimizer="lbfgs", tol=TIGHT_TOL, max_iter=k),
        data,
        lambda: _iterations_to_objective(data, target, settings.max_iter_lbfgs),
    )
    runners = {
        "LogisticRegression": _fit_runner(lambda: reference(data.task, n_train), data),
        "ours lbfgs": ours_runner,
    }
    times = interleaved(runners, settings.repeats)
    result = {
        "target": target,
        "logistic": {
            "seconds": median(times["LogisticRegression"]),
            "times": times["LogisticRegression"],
            "n_iter": _n_iter(logistic),
            "objective": logistic_objective,
        },
        "ours": {"seconds": median(times["ours lbfgs"]), "times": times["ours lbfgs"]},
    }
    result["ours"]["iterations"] = ours_runner.k
    if ours_runner.estimator is not None:
        result["ours"].update(_evaluate(ours_runner.estimator, data))
    return result


# ------------------------------------------------------------------ driver
def _objective_values(result):
    """Every objective value measured on the dataset."""
    values = [result["optimum"]["objective"]]
    for section in ("time_to_target", "final"):
        values += [
            row["objective"]
            for row in result[section]["rows"].values()
            if "objective" in row
        ]
    lbfgs = result.get("lbfgs")
    if lbfgs is not None:
        values += [lbfgs["logistic"]["objective"], lbfgs["ours"].get("objective")]
    return [v for v in values if v is not None]


def add_gaps(result):
    """Relative objective gaps ``(f - f_opt) / |f_opt|``, f_opt the best value seen."""
    best = min(_objective_values(result))
    result["optimum"]["best_objective"] = best
    for section in ("time_to_target", "final"):
        for row in result[section]["rows"].values():
            if "objective" in row:
                row["gap"] = (row["objective"] - best) / abs(best)


def run_dataset(data, settings, log):
    """All sections on one dataset, with the load average at each section start."""
    result = {"info": data.info(), "load_average": []}

    def section(message):
        result["load_average"].append(_load_average())
        log(message)

    section("optimum (tight reference fit)")
    result["optimum"] = reference_optimum(data)
    reference_fit = _evaluate(
        reference(data.task, data.X_train.shape[0]).fit(data.X_train, data.y_train),
        data,
    )
    section("per-epoch times")
    result["per_epoch"] = per_epoch(data, settings)
    section("time to target")
    result["time_to_target"] = time_to_target(data, settings, reference_fit)
    section("final fits")
    result["final"] = final_fits(data, settings)
    section("memory")
    result["memory"] = memory(data, settings)
    if data.task == "classification":
        section("lbfgs vs LogisticRegression")
        result["lbfgs"] = lbfgs_vs_logistic(data, settings)
    result["load_average"].append(_load_average())
    add_gaps(result)
    return result


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="smoke run on 1/10 of the rows"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=HERE / "results.json",
        help="JSON results file (default: benchmarks/results.json)",
    )
    parser.add_argument(
        "--datasets",
        nargs="+",
        choices=list(DATASETS),
        default=list(DATASETS),
        metavar="NAME",
        help=f"datasets to run, among {', '.join(DATASETS)} (default: all)",
    )
    parser.add_argument(
        "--markdown", type=Path, help="also write the tables as markdown to this file"
    )
    return parser.parse_args(argv)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not a result value")


def write_json(results, path):
    path.write_text(json.dumps(results, indent=1, default=_json_default) + "\n")


def _load_average():
    """1-minute load average (this benchmark alone contributes about 1 to 2)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    settings = QUICK if args.quick else Settings()
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    start = time.perf_counter()

    def log(message):
        elapsed = time.perf_counter() - start
        print(f"[{elapsed:7.1f}s] {message}", file=sys.stderr, flush=True)

    results = {
        "command": shlex.join(["python", "benchmarks/run.py", *argv]),
        "settings": asdict(settings),
        "machine": machine_info(),
        "load_average": {"start": _load_average()},
        "datasets": {},
    }
    for name in args.datasets:
        log(f"{name}: generating")
        data = make_dataset(name, settings.scale)
        result = run_dataset(data, settings, lambda m, n=name: log(f"{n}: {m}"))
        results["datasets"][name] = result
        print(render_text(name, result, dataset_tables(result)), flush=True)
        results["elapsed_s"] = time.perf_counter() - start
        results["load_average"]["end"] = _load_average()
        write_json(results, args.out)
    log(f"done; results in {args.out}; load average {_load_average()}")
    if args.markdown is not None:
        args.markdown.write_text(render_markdown(results))
        log(f"markdown in {args.markdown}")


if __name__ == "__main__":
    main()
