"""The table a transfer benchmark prints: the median seconds of each timed
operation, its MB/s, and its throughput relative to the baseline form of the
same operation, from lines "LABEL SECONDS" where LABEL is "OP, FORM".

usage: ratio_table.py TIMES SIZE_MIB WHAT BASELINE OTHER FOOTNOTE OP...
"""
import statistics
import sys

times, size_mib, what, baseline, other, footnote, *ops = sys.argv[1:]
rows = {}
for line in open(times):
    label, secs = line.rsplit(" ", 1)
    rows.setdefault(label, []).append(float(secs))
mb = int(size_mib) * 1048576 / 1e6
med = {k: statistics.median(v) for k, v in rows.items()}
runs = len(next(iter(rows.values())))
print(f"{mb:.0f} MB {what}, median of {runs} runs, hub on loopback")
print(f"{'operation':<24} {'seconds':>8} {'MB/s':>8} {'vs ' + baseline:>12}")
for op in ops:
    base = med[f"{op}, {baseline}"]
    for k in [f"{op}, {baseline}", f"{op}, {other}"]:
        print(f"{k:<24} {med[k]:>8.2f} {mb / med[k]:>8.0f} {base / med[k]:>11.2f}x")
print(footnote)
