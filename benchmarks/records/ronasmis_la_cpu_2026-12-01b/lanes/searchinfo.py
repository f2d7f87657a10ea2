import json, sys, glob, statistics
for f in sorted(glob.glob('/work/b32/la/search_ronasmis_trained_seed*/runs/*/arch.json')):
    a = json.load(open(f)); p = a['provenance']; d = p['decisions']
    log = [json.loads(l) for l in open(f.replace('arch.json', 'log.jsonl')) if l.strip()]
    secs = [r['seconds'] for r in log]; steps = [r['step_ms'] for r in log]
    print(f.split('/')[4], 'trials', p['trials'], 'per cand %.1f' % d['trials_per_candidate'], 'dice', d['trial_dice'], 'sd', d['trial_dice_sd'],
          'sigma', d['noise_sd'], 'effect', d['effect_sd'], 'decided', d['decided_share'], 'clear', d['clear'], p['verdict'])
    print('   secs %.0f-%.0f median %.0f' % (min(secs), max(secs), statistics.median(secs)), 'step_ms median', statistics.median(steps))
    print('   shuffled_p', p['shuffled_p'], 'export', p['exported'], a['values'], 'best', p['best_trial'], 'cost', p.get('cost'))
    print('   top probs', {k: max(v) for k, v in p['probabilities'].items()})
