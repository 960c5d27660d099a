"""ONNX artifacts: write a fitted estimator (`writer.export_model`), describe it
(`metadata`), and serve it with ONNX Runtime alone (`loader.OnnxMultiHorizonModel`).

Nothing is imported here: `loader` must stay importable without LightGBM or
torch, and the writer's converters import them on demand.
"""
