"""tfest-adapters: input_fn builders, model_fn templates and wiring for tf.estimator.

The public API is listed in ``__all__``. Names are resolved on first use (PEP 562), so
``import tfest_adapters`` is cheap and TensorFlow is imported only when a name that needs it
is touched; ``from tfest_adapters import X`` works as usual.

Example:

  import tfest_adapters as tfa

  train_fn = tfa.numpy_input_fn(x_train, y_train, batch_size=32, num_epochs=None,
                                shuffle=True, seed=0)
  estimator = tfa.make_estimator(
      tfa.classifier_model_fn,
      params=dict(feature_keys=list(x_train), hidden_units=[10, 10], n_classes=3),
      model_dir='runs/iris', seed=0)
  history = tfa.fit(estimator, train_fn, max_steps=1000)
"""

import importlib

from tfest_adapters import console as _console

_console.quiet_by_default()  # Before any TensorFlow import (docs/console.md); TFEST_VERBOSE=1.

__version__ = '0.1.0'

# Public name -> module that defines it.
_EXPORTS = {
  # Input side (input_fns/, installed as tfest_adapters.input_fns).
  'numpy_input_fn': 'tfest_adapters.input_fns',
  'pandas_input_fn': 'tfest_adapters.input_fns',
  'tensor_slices_input_fn': 'tfest_adapters.input_fns',
  'csv_input_fn': 'tfest_adapters.input_fns',
  'tfrecord_input_fn': 'tfest_adapters.input_fns',
  'write_tfrecords': 'tfest_adapters.input_fns',
  'TFRecordFiles': 'tfest_adapters.input_fns',
  'group_batches': 'tfest_adapters.input_fns',
  # Model side (models/, installed as tfest_adapters.models).
  'classifier_model_fn': 'tfest_adapters.models',
  'regressor_model_fn': 'tfest_adapters.models',
  'linear_classifier_model_fn': 'tfest_adapters.models',
  'linear_regressor_model_fn': 'tfest_adapters.models',
  'wide_deep_classifier_model_fn': 'tfest_adapters.models',
  'wide_deep_regressor_model_fn': 'tfest_adapters.models',
  'make_model_fn': 'tfest_adapters.models',
  'check_spec': 'tfest_adapters.models',
  'mode_checked': 'tfest_adapters.models',
  'dry_run': 'tfest_adapters.models',
  'DryRunReport': 'tfest_adapters.models',
  'dnn_network_fn': 'tfest_adapters.models',
  'make_head': 'tfest_adapters.models',
  'make_optimizer_fn': 'tfest_adapters.models',
  'StepsPerRunStopHook': 'tfest_adapters.models',
  # Estimator side.
  'make_estimator': 'tfest_adapters.estimator',
  'fit': 'tfest_adapters.training',
  'History': 'tfest_adapters.training',
  'read_history': 'tfest_adapters.training',
  'train_and_evaluate': 'tfest_adapters.training',
  'export_saved_model': 'tfest_adapters.serving',
  'Predictor': 'tfest_adapters.serving',
  # Errors and keys.
  'TfestError': 'tfest_adapters.exceptions',
  'PredictionKeys': 'tfest_adapters.keys',
  'MetricKeys': 'tfest_adapters.keys',
  # The console.
  'verbose_logging': 'tfest_adapters.console',
}

# Public submodules, importable as attributes.
_SUBMODULES = ('input_fns', 'models', 'cluster', 'exceptions', 'keys', 'console', 'demo')

__all__ = sorted(_EXPORTS) + list(_SUBMODULES)


def __getattr__(name):
  if name in _EXPORTS:
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
  if name in _SUBMODULES:
    return importlib.import_module('tfest_adapters.' + name)
  raise AttributeError('module %r has no attribute %r' % (__name__, name))


def __dir__():
  return sorted(set(globals()) | set(__all__))
