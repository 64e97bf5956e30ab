"""Training: fit and its callbacks, guards, the model_dir lock, History, train_and_evaluate.

Layer 5 (see docs/architecture.md): builds on ``estimator`` and ``serving`` (the best
exporter), and on ``_core``, ``exceptions`` and ``keys``.
"""

from tfest_adapters.training._fit import fit
from tfest_adapters.training._history import History
from tfest_adapters.training._history import read_history
from tfest_adapters.training._train_eval import train_and_evaluate

__all__ = [
  'fit',
  'History',
  'read_history',
  'train_and_evaluate',
]
