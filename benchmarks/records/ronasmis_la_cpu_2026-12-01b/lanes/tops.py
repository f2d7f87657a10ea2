import json, glob, itertools
from scipy.stats import binomtest
from segnas.nas.arch import load_architecture
from segnas.nas.spaces import get_space
from segnas.nas.arch import OpChoice
tops, exps = {}, {}
for f in sorted(glob.glob('/work/b32/la/search_ronasmis_trained_seed*/runs/*/arch.json')):
    a = load_architecture(f); name = f.split('/')[4].replace('search_ronasmis_trained_', '')
    cands = {c.label: [x for x in c.candidates if x != 'zero'] for c in get_space(a.space).choices(**a.settings) if isinstance(c, OpChoice)}
    probs = a.provenance['probabilities']
    tops[name] = {k: cands[k][max(range(len(v)), key=v.__getitem__)] if len(v) == len(cands[k]) else None for k, v in probs.items()}
    exps[name] = {k: a.values[k] for k in probs}
    print(name, 'top', tops[name], '\n      export', exps[name])
for what, d in (('tops', tops), ('exports', exps)):
    real = [n for n in d if 'placebo' not in n]
    tot = same = 0
    for x, y in itertools.combinations(real, 2):
        s = sum(d[x][k] == d[y][k] for k in d[x]); tot += 4; same += s
        print(what, x, y, s, '/4', 'p %.2g' % binomtest(s, 4, 1/7, alternative='greater').pvalue)
    print(what, 'all pairs', same, '/', tot)
    for pairs in ((('seed0', 'seed1'), ('seed2', 'seed3')), (('seed1', 'seed2'), ('seed0', 'seed3')), (('seed1', 'seed3'), ('seed0', 'seed2'))):
        s = sum(sum(d[x][k] == d[y][k] for k in d[x]) for x, y in pairs)
        print(what, 'disjoint', pairs, s, '/8 p %.2g' % binomtest(s, 8, 1/7, alternative='greater').pvalue)
