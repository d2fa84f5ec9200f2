# Sourced by the benchmarks: one virtualenv for the Python peers, created
# once under ~/.cache (Evidently 0.7 needs pandas < 3). Sets $PY. The serving
# benchmark pins its own (bench/serve.sh).
venv="$HOME/.cache/berth-bench-venv"
stamp="$venv/.berth-peers-3"
if [ ! -f "$stamp" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'pandas<3' evidently==0.7.23 scipy pyarrow scikit-learn joblib onnxruntime lightgbm==4.7.0
  touch "$stamp"
fi
PY="$venv/bin/python"
