"""The convergence benchmark's core (benchmarks/convergence.py) on iris."""

import importlib.util
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "convergence.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("convergence_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gap_and_fits_on_iris(bench):
    problem = bench.panel_builders()["iris/scaled"]()
    Y = bench.encode(problem)
    n, d = problem.X.shape
    alpha = 1e-4
    reference = bench.reference_optimum(problem, alpha, Y)
    assert reference.grad_inf_norm < 1e-8

    # Hand-checked: with W = 0 and b = 0 the three balanced classes (50 each)
    # give every row probability 1/3, so J = log 3, above J* (a positive gap).
    zeros = bench.objective(
        problem.task, problem.X, Y, alpha, np.zeros((3, d)), [0.0] * 3
    )
    assert zeros == pytest.approx(math.log(3), rel=1e-12)
    assert bench.relative_gap(zeros, reference.value) > 1.0

    # LogisticRegression with the matched C solves the same objective: gap ~0.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logreg = LogisticRegression(C=1 / (n * alpha), tol=1e-10, max_iter=10_000)
        logreg.fit(problem.X, problem.y)
    value = bench.model_objective(problem, Y, alpha, logreg)
    assert abs(bench.relative_gap(value, reference.value)) < 1e-6

    # Binary encoding: the indicator of classes[1], as LogisticRegression's coef_.
    binary = bench.Problem(
        "iris01", "test", "classification", problem.X[:100], problem.y[:100], ""
    )
    Yb = bench.encode(binary)
    assert Yb.shape == (100, 1)
    zeros = bench.objective("classification", binary.X, Yb, alpha, np.zeros((1, d)), 0)
    assert zeros == pytest.approx(math.log(2), rel=1e-12)

    # The script's fits: defaults and plain SGD, warnings counted, not raised.
    configs = [c for c in bench.configurations(["sgd"]) if c[0] != "peer"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing may escape the recording
        fits = [
            bench.measure_fit(problem, Y, alpha, reference, *config)
            for config in configs
        ]
    assert [f.config for f in fits] == ["defaults", "sgd"]
    for fit in fits:
        assert fit.error is None
        assert fit.gap > -1e-9  # no fit beats the optimum
        assert fit.seconds > 0
        assert fit.stopped == (fit.n_iter < fit.max_iter)
        assert fit.verdict in {"ok", "warned", "false-alarm", "SILENT"}
    summary = bench.summarize(fits)
    assert summary["defaults"]["max_gap"] == fits[0].gap
    assert summary["configurations"]["sgd"]["kind"] == "stochastic"
