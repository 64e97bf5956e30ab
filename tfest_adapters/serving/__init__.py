"""Serving: export receivers, export_saved_model and the Predictor.

Layer 4 (see docs/architecture.md): imports ``_core``, ``exceptions`` and ``keys``; takes an
Estimator as an argument and never imports ``estimator`` or ``training``.
"""

from tfest_adapters.serving._export import build_serving_input_receiver_fn
from tfest_adapters.serving._export import export_saved_model
from tfest_adapters.serving._predictor import Predictor

__all__ = [
    'build_serving_input_receiver_fn',
    'export_saved_model',
    'Predictor',
]
