"""Optuna's TPESampler (default settings) on hourglass's test functions, 100 trials per seed,
and its NSGAIISampler (default settings) on ZDT1 and ZDT2, 200 trials per seed: one JSON line
per function and seed with the best regret or the hypervolume, as the `search` bench prints
hourglass's. The functions are those of `crates/search/src/functions.rs`."""

import json
import math
import sys

import optuna

TRIALS = 100
SEEDS = 20
MULTI_TRIALS = 200
MULTI_SEEDS = 10
ZDT_VARIABLES = 30
ZDT_REFERENCE = (1.1, 11.0)


def branin(trial):
    x1 = trial.suggest_float("x1", -5.0, 10.0)
    x2 = trial.suggest_float("x2", 0.0, 15.0)
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


ALPHA = [1.0, 1.2, 3.0, 3.2]
A = [
    [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
    [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
    [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
    [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
]
P = [
    [1312, 1696, 5569, 124, 8283, 5886],
    [2329, 4135, 8307, 3736, 1004, 9991],
    [2348, 1451, 3522, 2883, 3047, 6650],
    [4047, 8828, 8732, 5743, 1091, 381],
]


def hartmann6(trial):
    x = [trial.suggest_float(f"x{j}", 0.0, 1.0) for j in range(6)]
    return -sum(
        ALPHA[i] * math.exp(-sum(A[i][j] * (x[j] - P[i][j] * 1e-4) ** 2 for j in range(6)))
        for i in range(4)
    )


def training_like(trial):
    rate = trial.suggest_float("rate", 1e-5, 1.0, log=True)
    width = trial.suggest_int("width", 8, 512, log=True)
    activation = trial.suggest_categorical("activation", [0, 1, 2, 3])
    momentum = trial.suggest_float("momentum", 0.0, 1.0)
    return (
        (math.log10(rate) + 2.5) ** 2 / 4
        + (math.log2(width) - 7) ** 2 / 9
        + [0.3, 0.0, 0.5, 0.8][activation]
        + (momentum - 0.9) ** 2
    )


FUNCTIONS = [
    ("branin", branin, 0.397887357729738),
    ("hartmann6", hartmann6, -3.322368011415515),
    ("training-like", training_like, 0.0),
]

def zdt(front):
    def objectives(trial):
        x = [trial.suggest_float(f"x{j}", 0.0, 1.0) for j in range(ZDT_VARIABLES)]
        g = 1 + 9 * sum(x[1:]) / (ZDT_VARIABLES - 1)
        return x[0], g * front(x[0] / g)

    return objectives


MULTI_FUNCTIONS = [
    ("zdt1", zdt(lambda r: 1 - math.sqrt(r))),
    ("zdt2", zdt(lambda r: 1 - r * r)),
]


def hypervolume_2d(points, reference):
    """The area the points dominate below `reference`, both objectives minimised."""
    inside = sorted(p for p in points if p[0] < reference[0] and p[1] < reference[1])
    area, ceiling = 0.0, reference[1]
    for x, y in inside:
        if y < ceiling:
            area += (reference[0] - x) * (ceiling - y)
            ceiling = y
    return area


if __name__ == "__main__":
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    print(json.dumps({"optuna": optuna.__version__}))
    for name, function, minimum in FUNCTIONS:
        for seed in range(SEEDS):
            study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
            study.optimize(function, n_trials=TRIALS)
            regret = study.best_value - minimum
            print(json.dumps({"function": name, "sampler": "optuna_tpe", "seed": seed, "regret": regret}))
            sys.stdout.flush()
    for name, function in MULTI_FUNCTIONS:
        for seed in range(MULTI_SEEDS):
            sampler = optuna.samplers.NSGAIISampler(seed=seed)
            study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
            study.optimize(function, n_trials=MULTI_TRIALS)
            volume = hypervolume_2d([tuple(t.values) for t in study.trials], ZDT_REFERENCE)
            print(json.dumps({"function": name, "sampler": "optuna_nsga2", "seed": seed, "hypervolume": volume}))
            sys.stdout.flush()
