# SPDX-License-Identifier: LGPL-2.1-or-later
# Summarises tests/bench/tier/run's regret sweep (OUTDIR/regret/*.jsonl from bench-tier-regret):
# the distribution over seeds per workload, policy and variant, regret.csv, and the RATIO lines.
# Usage: regret-summary.py OUTDIR
import glob, json, math, os, statistics, sys

out = sys.argv[1]
runs = []
for path in sorted(glob.glob(os.path.join(out, "regret", "*.jsonl"))):
    with open(path) as fh:
        runs += [json.loads(line) for line in fh if line.strip()]
builtin = ("bfs", "zipf", "phases", "scan")
workloads = sorted({r["workload"] for r in runs}, key=lambda w: (w not in builtin, builtin.index(w) if w in builtin else 0, w))


def p90(v):  # nearest rank: of 10 seeds, the 9th smallest
    v = sorted(v)
    return v[max(0, math.ceil(0.9 * len(v)) - 1)]


def pick(w, pol, var, key):
    return [r[key] for r in runs if r["workload"] == w and r["policy"] == pol and r["variant"] == var]


print("\nRegret against the best grid action (local fraction 0.1, contention 0.5; shift: contention")
print("0 -> 0.5 at episode 100, judged at 0.5), over seeds: final regret p50 / p90 / max / mean,")
print("cumulative regret mean (exact: true completion times fed back; noise: x uniform(0.95, 1.05))")
print(f"{'workload':12} {'policy':7} {'variant':7} {'ep':>3} {'p50':>7} {'p90':>7} {'max':>7} {'mean':>7} {'cumul':>7}")
rows = []
for w in workloads:
    for var in ("exact", "noise", "shift"):
        for pol in ("heuristic", "static", "linucb", "indigo"):
            if pol in ("heuristic", "static") and var != "exact":
                continue
            for ep in ((50, 200) if var != "shift" else (200,)):
                suffix = "" if ep == 200 else "_50"
                if pol in ("heuristic", "static"):  # no training: one judgement
                    if ep != 200:
                        continue
                    suffix = ""
                fin = pick(w, pol, var, "regret" + suffix)
                cum = pick(w, pol, var, "cumulative_regret" + suffix)
                if not fin:
                    continue
                row = dict(w=w, pol=pol, var=var, ep=ep, p50=statistics.median(fin), p90=p90(fin), max=max(fin),
                           mean=statistics.fmean(fin), cum=statistics.fmean(cum), n=len(fin))
                rows.append(row)
                print(f"{w:12} {pol:7} {var:7} {ep:3} {row['p50']:7.4f} {row['p90']:7.4f} {row['max']:7.4f}"
                      f" {row['mean']:7.4f} {row['cum']:7.4f}")
with open(os.path.join(out, "regret.csv"), "w") as fh:
    fh.write("workload,policy,variant,episodes,seeds,p50,p90,max,mean,cumulative_mean\n")
    for r in rows:
        fh.write(f"{r['w']},{r['pol']},{r['var']},{r['ep']},{r['n']},{r['p50']:.6f},{r['p90']:.6f},{r['max']:.6f},"
                 f"{r['mean']:.6f},{r['cum']:.6f}\n")


def sel(pol, var, ep):
    return [r for r in rows if r["pol"] == pol and r["var"] == var and r["ep"] == ep]


def ratio(name, value, target, what):
    print(f"RATIO tier {name} {value:.4f} target<={target} {'met' if value <= target else 'NOT-met'} ({what})")


def cumulative(pol):
    v = [x for w in workloads for x in pick(w, pol, "noise", "cumulative_regret")]
    return statistics.fmean(v)


ind = sel("indigo", "noise", 200)
worst_p90 = max(ind, key=lambda r: r["p90"])
worst_mean = max(ind, key=lambda r: r["mean"])
worst_shift = max(sel("indigo", "shift", 200), key=lambda r: r["p90"])
cum_i, cum_l = cumulative("indigo"), cumulative("linucb")
print()
ratio("indigo_p90_regret_max", worst_p90["p90"], 0.05, f"worst workload: {worst_p90['w']}")
ratio("indigo_mean_regret_max", worst_mean["mean"], 0.02, f"worst workload: {worst_mean['w']}")
ratio("indigo_cumulative_vs_linucb", cum_i / cum_l, 1.2, f"mean cumulative regret {cum_i:.4f} vs {cum_l:.4f}")
ratio("indigo_shift_regret_p90", worst_shift["p90"], 0.10, f"worst workload: {worst_shift['w']}")
for pol in ("indigo", "linucb"):
    for ep in (50, 200):
        s = sel(pol, "noise", ep)
        print(f"RESULT tier {pol}_noise_{ep} p90_max {max(r['p90'] for r in s):.4f}"
              f" mean_max {max(r['mean'] for r in s):.4f}"
              f" cumulative_mean {statistics.fmean(r['cum'] for r in s):.4f}")
for pol in ("heuristic", "static"):
    s = sel(pol, "exact", 200)
    print(f"RESULT tier {pol} regret_mean {statistics.fmean(r['mean'] for r in s):.4f}"
          f" regret_max {max(r['max'] for r in s):.4f}")
print(f"RESULT tier linucb_shift_regret_p90 {max(r['p90'] for r in sel('linucb', 'shift', 200)):.4f}")
