"""Serving: export receivers, export_saved_model and the Predictor.

Layer 4 (see docs/architecture.md): imports ``_core``, ``exceptions`` and ``keys``; takes an
Estimator as an argument and never imports ``estimator`` or ``training``. Inside, imports
point one way: ``_receivers``, ``_packed`` < ``_session`` (a loaded SavedModel) < ``_export`` <
``_predictor``.
"""

from tfest_adapters.serving._export import export_saved_model
from tfest_adapters.serving._predictor import Predictor
from tfest_adapters.serving._receivers import build_serving_input_receiver_fn

__all__ = [
  'build_serving_input_receiver_fn',
  'export_saved_model',
  'Predictor',
]
