import json, numpy as np
from scipy.stats import wilcoxon
def arch(n):
    ms = [json.load(open(f'/work/b32/la/train/{n}_seed{t}/predictions/500steps/metrics.json')) for t in (0, 1)]
    from real_data import case_dice
    ds = [case_dice(m) for m in ms]
    return {c: np.mean([d[c] for d in ds]) for c in ds[0]}
P = arch('placebo_trained_seed0')
for s in (0, 1, 2, 3):
    A = arch(f'searched_trained_seed{s}')
    d = np.array([A[c] - P[c] for c in P])
    print(f'seed{s} vs placebo: {d.mean():+.4f}, higher on {(d > 0).sum()}/{len(d)}, p = {wilcoxon(d).pvalue:.2g}')
for a, b in ((3, 1), (3, 2), (2, 1)):
    A, B = arch(f'searched_trained_seed{a}'), arch(f'searched_trained_seed{b}')
    d = np.array([A[c] - B[c] for c in A])
    print(f'seed{a} vs seed{b}: {d.mean():+.4f}, higher on {(d > 0).sum()}/{len(d)}, p = {wilcoxon(d).pvalue:.2g}')
R = [arch(f'random_trained{i}') for i in range(5)]
best = R[1]; A = arch('searched_trained_seed3')
d = np.array([A[c] - best[c] for c in A]); print(f'seed3 vs best draw random1: {d.mean():+.4f}, {(d>0).sum()}/{len(d)}, p = {wilcoxon(d).pvalue:.2g}')
