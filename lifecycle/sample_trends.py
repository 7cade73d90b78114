"""Trends for the sample company (`lifecycle.sample`): monthly numbers as quotas on the window's log-linear
trend, and amounts scaled onto it.

A month's count of a small stage (SQLs, wins, recycled leads …) drawn one by one, or even as an exact quota
of what arrived upstream, inherits every wobble upstream; a quota on the trend of that count does not. The
trend is fitted over the window's complete months, so a planted change that stays upstream (the organic
decline) shows where it is planted and not further down.
"""

from __future__ import annotations

import numpy as np

from lifecycle.sample_model import Calendar


def centered_choice(p: np.ndarray, keys: tuple[np.ndarray, ...]) -> np.ndarray:
    """Bernoulli outcomes with probabilities `p` by systematic sampling in the order of `keys`, restarting half
    way into a step at every new value of the first key: each of its runs gets its expected count rounded, and
    the chosen ones sit evenly through the run (their median is the run's median)."""
    n = len(p)
    if n == 0:
        return np.zeros(0, bool)
    order = np.lexsort(tuple(reversed(keys)))
    ordered, first = np.clip(p[order], 0.0, 1.0), keys[0][order]
    total = np.cumsum(ordered)
    starts = np.flatnonzero(np.r_[True, first[1:] != first[:-1]])
    cum = 0.5 + total - np.repeat((total - ordered)[starts], np.diff(np.r_[starts, n]))
    out = np.empty(n, bool)
    out[order] = np.floor(cum) > np.floor(cum - ordered)
    return out


def trend_choice(
    p: np.ndarray, month: np.ndarray, cal: Calendar, order: np.ndarray | None = None
) -> np.ndarray:
    """Bernoulli outcomes with probabilities `p` where every window month (`month`: index of each candidate's
    month) gets the trend of its expected count (`window_trend`), rounded, spread evenly over its candidates
    in `order` (e.g. an age; default: as given): a quota that follows the trend, not the month's luck."""
    expected = np.bincount(month, weights=p, minlength=cal.n + 1)[: cal.n]
    scale = np.divide(window_trend(expected, cal), expected, out=np.ones(cal.n), where=expected > 0)
    scale[: cal.window] = 1.0
    rank = np.arange(len(p)) if order is None else order
    return centered_choice(p * np.append(scale, 1.0)[month], (month, rank))


def log_linear_fit(y: np.ndarray) -> tuple[float, float]:
    """(level, slope) of the Poisson regression log E[y_k] = level + slope·k over k = 0, 1, …: a log-linear trend
    that small or zero counts (a small company) weigh in as they should. (-inf, 0) when every count is 0."""
    y = np.asarray(y, float)
    if y.sum() <= 0:
        return -np.inf, 0.0
    design = np.column_stack([np.ones(len(y)), np.arange(len(y))])
    coef = np.array([np.log(y.mean()), 0.0])
    for _ in range(25):  # Newton steps on the log-likelihood
        mu = np.exp(design @ coef)
        step = np.linalg.solve(design.T @ (design * mu[:, None]), design.T @ (y - mu))
        coef += step
        if np.abs(step).max() < 1e-10:
            break
    return float(coef[0]), float(coef[1])


def window_trend(totals: np.ndarray, cal: Calendar) -> np.ndarray:
    """The log-linear trend (`log_linear_fit`) of monthly `totals` (one per simulated month) over the window's
    complete months, for every simulated month (the partial last month: its share of it)."""
    level, slope = log_linear_fit(np.asarray(totals, float)[cal.window : cal.n - 1])
    return np.exp(level + slope * (np.arange(cal.n) - cal.window)) * cal.fraction()


def on_schedule(times: np.ndarray, cal: Calendar) -> np.ndarray:
    """`times` moved, keeping their order, so that every window month holds the trend of how many of them fall
    in it (`window_trend`, rounded cumulatively); each keeps its relative place among its month's times, and
    months before the window keep theirs."""
    n = len(times)
    order = np.argsort(times, kind="stable")
    month = cal.month_of(times)
    counts = np.bincount(month, minlength=cal.n + 1)
    wanted = counts[: cal.n].astype(float)
    wanted[cal.window :] = window_trend(counts[: cal.n].astype(float), cal)[cal.window :]
    # Cumulative counts: the natural ones up to the window, then the trend's, rounded.
    bounds = np.round(np.cumsum(wanted)).astype(np.int64)
    bounds[: cal.window] = np.cumsum(counts[: cal.window])
    rank = np.arange(n)
    new_month = np.searchsorted(bounds, rank, side="right")
    lo = np.r_[0, bounds][np.minimum(new_month, cal.n)]
    hi = np.r_[bounds, n][np.minimum(new_month, cal.n)]
    share = (rank - lo + 0.5) / np.maximum(hi - lo, 1)
    starts = np.append(cal.starts, cal.end + (cal.end - cal.starts[-2]))
    span = (starts[new_month + 1] - starts[new_month]).astype(np.int64)
    moved = starts[new_month] + (share * span).astype(np.int64).astype("timedelta64[s]")
    out = np.empty(n, dtype=times.dtype)
    out[order] = np.where(new_month < cal.n, moved, np.maximum(times[order], cal.end))
    return out


def onto_trend(values: np.ndarray, month: np.ndarray, cal: Calendar) -> np.ndarray:
    """`values` (e.g. won amounts, with their month index `month`) scaled month by month so that each month's
    total is on the trend of the window's monthly totals (`window_trend`)."""
    totals = np.bincount(month, weights=values, minlength=cal.n)
    factor = np.divide(window_trend(totals, cal), totals, out=np.ones(cal.n), where=totals > 0)
    return values * factor[month]
