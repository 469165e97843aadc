"""Linear models trained like neural networks: choose the loss and the optimizer."""

from ._base import DivergenceError
from ._classifier import LinearNNClassifier
from ._compare import CompareResult, compare
from ._regressor import LinearNNRegressor
from .losses import (
    LOSSES,
    AbsoluteError,
    EpsilonInsensitive,
    Hinge,
    Huber,
    LogLoss,
    Loss,
    ModifiedHuber,
    Perceptron,
    PerLabel,
    Poisson,
    Quantile,
    SquaredEpsilonInsensitive,
    SquaredError,
    SquaredHinge,
)
from .optimizers import (
    LBFGS,
    OPTIMIZERS,
    SAGA,
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    Adamax,
    AdamW,
    NAdam,
    Newton,
    Optimizer,
    Prodigy,
    RMSprop,
    ScheduleFreeAdamW,
    ScheduleFreeSGD,
)
from .schedules import SCHEDULES

__version__ = "0.1.0"

__all__ = [
    "LinearNNClassifier",
    "LinearNNRegressor",
    "compare",
    "CompareResult",
    "DivergenceError",
    "Loss",
    "LOSSES",
    "SquaredError",
    "AbsoluteError",
    "Huber",
    "EpsilonInsensitive",
    "SquaredEpsilonInsensitive",
    "Quantile",
    "Poisson",
    "LogLoss",
    "Hinge",
    "SquaredHinge",
    "ModifiedHuber",
    "Perceptron",
    "PerLabel",
    "Optimizer",
    "OPTIMIZERS",
    "SGD",
    "Adam",
    "AdamW",
    "NAdam",
    "Adamax",
    "RMSprop",
    "Adagrad",
    "Adadelta",
    "Prodigy",
    "ScheduleFreeSGD",
    "ScheduleFreeAdamW",
    "LBFGS",
    "Newton",
    "SAGA",
    "SCHEDULES",
]
