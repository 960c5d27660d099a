"""Training and evaluation pipeline (issue 5c).

- `dataset`: features joined with labels on (symbol, asof), NaN handling, manifest hash;
- `evaluate`: purged walk-forward fan-out (horizon × fold × trial) and OOS scores;
- `parallel`: the local process pool / Ray executors;
- `runs`: `training_runs` recording and `validate_leakage`;
- `pipeline`: the eval / train (+ ONNX export) flows; `tune`: Optuna;
"""
