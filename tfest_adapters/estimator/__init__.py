"""The Estimator: make_estimator, run config and placement, the kept session and its saver.

Layer 4 (see docs/architecture.md): imports ``tfest_adapters._core``, ``exceptions``, ``keys``
and ``models``' public names (its spec checks); ``training`` and ``cli`` build on it.
"""

from tfest_adapters.estimator._compatibility import check_checkpoint
from tfest_adapters.estimator._estimator import Estimator
from tfest_adapters.estimator._make import make_estimator
from tfest_adapters.estimator._make import seeded_model_fn
from tfest_adapters.estimator._placement import in_cluster
from tfest_adapters.estimator._placement import num_replicas
from tfest_adapters.estimator._run_config import build_run_config
from tfest_adapters.estimator._saver import SafeCheckpointSaverHook
from tfest_adapters.estimator._saver import saver_hooks

__all__ = [
  'Estimator',
  'build_run_config',
  'check_checkpoint',
  'make_estimator',
  'seeded_model_fn',
  'in_cluster',
  'num_replicas',
  'SafeCheckpointSaverHook',
  'saver_hooks',
]
