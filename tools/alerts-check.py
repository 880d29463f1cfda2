"""The early-warning rule alert-1 written again from its documentation (docs/complaints.md),
for tests/alerts.rs: numpy for the Poisson regression, scipy for the tails.

Reads JSON {"rule": {...the [alerts] values...}, "alpha": a, "month": i (index from the first
month of the data), "series": [[compound, category, [count by month from the first]], ...]}
on stdin; writes JSON {"tested": n, "alerts": [[compound, category, observed, expected,
dispersion, trend or null, reference_months, p], ...]} for every series whose month i has
p < alpha and at least min_observed complaints, in no particular order.
"""
import json
import sys

import numpy as np
from scipy import stats

data = json.load(sys.stdin)
rule, alpha, i = data["rule"], data["alpha"], data["month"]
hw = rule["half_window"]


def reference(counts):
    xs, ys, years = [], [], 0
    for j in range(1, rule["years"] + 1):
        centre = i - 12 * j
        if centre - hw < 0:
            break
        years += 1
        for m in range(centre - hw, centre + hw + 1):
            xs.append((m - i) / 12.0)
            ys.append(float(counts[m]))
    return np.array(xs), np.array(ys), years


def poisson_fit(x, y):
    """Newton's method on the Poisson log-likelihood of ln mu = a + b x (the same estimate
    as iteratively reweighted least squares); None when it does not settle."""
    if y.mean() <= 0 or len(y) < 3:
        return None
    X = np.column_stack([np.ones_like(x), x])
    beta = np.array([np.log(y.mean()), 0.0])
    for _ in range(100):
        mu = np.exp(X @ beta)
        info = X.T @ (X * mu[:, None])
        step = np.linalg.solve(info, X.T @ (y - mu))
        beta = beta + step
        if not np.all(np.isfinite(beta)) or abs(beta[1]) > 50:
            return None
        if np.abs(step).sum() < 1e-12:
            mu = np.exp(X @ beta)
            cov = np.linalg.inv(X.T @ (X * mu[:, None]))
            return beta[0], beta[1], cov[1, 1]
    return None


def dispersion(y, mu, params):
    chi2 = float(np.sum((y - mu) ** 2 / mu))
    return max(1.0, chi2 / max(1, len(y) - params))


def baseline(counts):
    x, y, years = reference(counts)
    if years < rule["min_years"] or len(y) == 0:
        return None
    if years >= rule["trend_years"]:
        fit = poisson_fit(x, y)
        if fit is not None:
            a, b, v = fit
            phi = dispersion(y, np.exp(a + b * x), 2)
            if abs(b) / np.sqrt(phi * v) > 1.96 and np.exp(a) <= y.max():
                return np.exp(a), phi, float(np.exp(b)), len(y)
    mean = float(y.mean())
    if mean <= 0:
        return 0.5 / len(y), 1.0, None, len(y)
    return mean, dispersion(y, mean, 1), None, len(y)


def upper_tail(obs, mu, phi):
    if phi <= 1.0 + 1e-6:
        return float(stats.poisson.sf(obs - 1, mu))
    return float(stats.nbinom.sf(obs - 1, mu / (phi - 1.0), 1.0 / phi))


tested, alerts = 0, []
for compound, category, counts in data["series"]:
    b = baseline(counts)
    if b is None:
        continue
    tested += 1
    mu, phi, trend, n = b
    obs = counts[i]
    if obs < rule["min_observed"] or obs <= mu:
        continue
    p = upper_tail(obs, mu, phi)
    if p < alpha:
        alerts.append([compound, category, obs, mu, phi, trend, n, p])
json.dump({"tested": tested, "alerts": alerts}, sys.stdout)
