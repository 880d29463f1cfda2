"""PySAL's answers on the hot-spot inputs of tests/hotspots.rs, for comparison.

Reads JSON {"y": [...], "neighbours": [[j, ...], ...] (each cell's own index included),
"months": [[...], ...] (each cell's monthly z-scores)} on stdin; writes JSON with esda's Gi*
z-scores (G_Local, binary weights, star=True), scipy's two-sided normal p-values,
Benjamini-Hochberg q-values and Kendall's tau of each cell's monthly z-scores against time.
"""
import json
import sys
import warnings

import numpy as np
from esda.getisord import G_Local
from libpysal.weights import W
from scipy import stats

warnings.filterwarnings("ignore")
data = json.load(sys.stdin)
y = np.array(data["y"], dtype=float)
neighbours = {i: [j for j in nb if j != i] for i, nb in enumerate(data["neighbours"])}
w = W(neighbours, silence_warnings=True)
g = G_Local(y, w, transform="B", star=True, permutations=0)
p = 2 * stats.norm.sf(np.abs(g.Zs))
q = stats.false_discovery_control(p, method="bh")
taus = []
for series in data["months"]:
    tau = stats.kendalltau(np.arange(len(series)), series).statistic
    taus.append(None if np.isnan(tau) else float(tau))
json.dump({"z": g.Zs.tolist(), "p": p.tolist(), "q": q.tolist(), "tau": taus}, sys.stdout)
