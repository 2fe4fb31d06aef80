"""The live side of the app, without Qt: the `Engine` that trains a run and computes its
pictures on a time budget, the training process that serves it over a pipe, and the typed
protocol (`protocol.py`) the windows and that process speak.

Layers: `core` (maths, data, training, files) ← `live` (this package) ← `app` (Qt) and `cli`.
Nothing here imports Qt; only the training process imports torch (`engine.py`, `process.py`).
"""
