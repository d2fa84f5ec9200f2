"""Loading benchmark: read 1M rows × 20 feature columns (plus a category and
a target) from CSV and from Parquet — berth (`berth data schema`, which reads
and types every cell) against pandas (`read_csv`, `read_parquet`), each as a
whole process so both pay their start-up. Median of RUNS. Run bench/data_load.sh.
"""
import statistics, subprocess, sys, tempfile, time, os

berth, rows, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
work = tempfile.mkdtemp()
for ext in ("csv", "parquet"):
    subprocess.run([berth, "data", "synth", "--kind", "classification", "--rows", str(rows), "--features", "20",
                    "-o", os.path.join(work, f"d.{ext}")], check=True, stdout=subprocess.DEVNULL)


def timed(cmd):
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        out.append(time.perf_counter() - t)
    return statistics.median(out)


print(f"{rows} rows x 22 columns, median of {runs} whole-process runs")
print(f"{'format':<8} {'MB':>6} {'berth s':>8} {'pandas s':>9} {'speed-up':>9}")
for ext, reader in (("csv", "read_csv"), ("parquet", "read_parquet")):
    path = os.path.join(work, f"d.{ext}")
    b = timed([berth, "data", "schema", path])
    p = timed([sys.executable, "-c", f"import pandas as pd; pd.{reader}({path!r})"])
    print(f"{ext:<8} {os.path.getsize(path) / 1e6:>6.0f} {b:>8.2f} {p:>9.2f} {p / b:>8.1f}x")
