"""Models: labels, purged splitters, estimators, training, tuning, ONNX export,
overfitting statistics, calibration and evaluation metrics.

Submodules are imported explicitly (``from quantgate.ml.splits import ...``) so
that importing one part never pulls in the heavy estimator dependencies.
"""
