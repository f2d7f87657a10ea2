exec(open('/work/b32/paired.py').read().split('P = arch')[0])
import numpy as np
from scipy.stats import wilcoxon
best = arch('random_trained1')
for s in (1, 2):
    A = arch(f'searched_trained_seed{s}'); d = np.array([A[c] - best[c] for c in A])
    print(f'seed{s} vs random1: {d.mean():+.4f}, {(d>0).sum()}/{len(d)}, p = {wilcoxon(d).pvalue:.2g}')
