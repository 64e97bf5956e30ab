"""mode_checked: a model_fn whose specs are checked, and whose deep errors say how to fix them.

The wrapped model_fn re-raises what TensorFlow says late or deep about a wrong model_fn (a loss
computed from ``labels=None``, a spec ``EstimatorSpec`` refuses, a new-style Keras optimizer
given to a head) as an error naming the mode, the field and the fix, then runs
:func:`~tfest_adapters.models.check_spec` on what it returns.
"""

import inspect
import os
import re
import traceback

import tensorflow as tf
from tensorflow.python.util import function_utils  # The Estimator's own fn_args.

from tfest_adapters import exceptions
from tfest_adapters._core import validation
from tfest_adapters.models import _spec_checks

ModeKeys = tf.estimator.ModeKeys
_MODEL_FN_ARGS = ('features', 'labels', 'mode', 'params', 'config')
# What TensorFlow and Python say when a loss or metric is computed from labels=None.
_NONE_LABELS = re.compile(
  r'None values not supported|NoneType|must not be None|Given: None|labels=None|'
  r'value \(None\) with an unsupported type'
)
# What EstimatorSpec says when a field is missing, and the field.
_MISSING_FIELDS = {
  'Missing predictions.': 'predictions',
  'Missing loss.': 'loss',
  'Missing train_op.': 'train_op',
}


def _raised_by_estimator_spec(err):
  """True if ``err`` comes from EstimatorSpec's own validation (tensorflow_estimator)."""
  for frame in traceback.extract_tb(err.__traceback__):
    path = frame.filename.replace(os.sep, '/')
    if 'tensorflow_estimator/' in path and path.endswith(('/model_fn.py', '/export_utils.py')):
      return True
  return False


def _translate(err, mode, labels, takes_labels):
  """Returns a clear error for a known deep error raised by a model_fn, or None."""
  text = str(err)
  name = _spec_checks.mode_name(mode)
  if isinstance(err, AttributeError) and "has no attribute 'get_updates'" in text:
    return exceptions.ArgumentError(
      '%s: a new-style Keras optimizer was given to a TF head, which calls get_updates (%s): '
      'pass the legacy one, e.g. tf.keras.optimizers.legacy.Adam(...), with its iterations '
      'set to tf.compat.v1.train.get_or_create_global_step(); tfest_adapters.models.'
      'make_model_fn does both for you' % (name, text)
    )
  if takes_labels and labels is None and _NONE_LABELS.search(text):
    if mode == ModeKeys.PREDICT:
      clear = _spec_checks.missing_field_error('predictions', mode)
      return exceptions.SpecError(
        '%s. The model_fn failed on labels=None with %s: %s' % (clear, type(err).__name__, text)
      )
    return exceptions.ArgumentError(
      '%s model_fn got labels=None and failed on it (%s: %s): in TRAIN and EVAL the input_fn '
      'must return (features, labels), or a tf.data.Dataset of (features, labels) pairs'
      % (name, type(err).__name__, text)
    )
  if not _raised_by_estimator_spec(err):
    return None
  # EstimatorSpec.__new__ refused the spec; say the same with the fix.
  if text in _MISSING_FIELDS:
    return _spec_checks.missing_field_error(_MISSING_FIELDS[text], mode)
  if text.startswith('Loss must be scalar'):
    return _spec_checks.spec_error(
      mode,
      'spec loss must be a scalar Tensor (%s). Reduce the per-example losses, e.g. '
      'loss = tf.reduce_mean(per_example_loss)' % text,
    )
  if re.match(r'Multiple .?export_outputs.? were provided', text):
    return _spec_checks.spec_error(
      mode,
      'spec export_outputs has several signatures and none named %r: name the one '
      'served by default %r (%s)'
      % ((tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY,) * 2 + (text,)),
    )
  if text.startswith('Values of eval_metric_ops must be'):
    return _spec_checks.spec_error(
      mode,
      'spec eval_metric_ops values must be (value, update_op) pairs, as '
      'tf.compat.v1.metrics.accuracy(labels, predictions) returns, or updated '
      'tf.keras.metrics.Metric objects (%s)' % text,
    )
  if text.startswith('Please call update_state'):
    return _spec_checks.spec_error(
      mode,
      'spec eval_metric_ops has a Keras metric that was never updated: call '
      'metric.update_state(labels, predictions) before returning it (%s)' % text,
    )
  return None


def _model_fn_args(model_fn):
  args = tuple(function_utils.fn_args(model_fn))
  if 'features' not in args:
    validation.fail(
      'model_fn',
      'a function taking a features argument',
      model_fn,
      'define it as model_fn(features, labels, mode, params, config)',
      error=exceptions.ArgumentTypeError,
    )
  unknown = [a for a in args if a not in _MODEL_FN_ARGS]
  if unknown:
    validation.fail(
      'model_fn',
      'a function taking only %s' % ', '.join(_MODEL_FN_ARGS),
      model_fn,
      'it also takes %s' % ', '.join(unknown),
      error=exceptions.ArgumentTypeError,
    )
  return args


def mode_checked(model_fn):
  """Wraps a model_fn so that every spec it returns is checked against its mode.

  The wrapper takes the same arguments as ``model_fn`` (plus ``mode``, which it needs), so
  the Estimator passes it exactly what it passed before. It calls ``model_fn``, re-raises the
  deep errors of a wrong model_fn clearly (a loss computed from ``labels=None`` in PREDICT,
  a spec that ``tf.estimator.EstimatorSpec`` refuses, a new-style Keras optimizer given to a
  head), chaining the original, then runs ``check_spec`` on the result.

  Args:
    model_fn: a function ``(features, labels, mode, params, config)`` (any subset that includes
      features) returning a ``tf.estimator.EstimatorSpec``.

  Returns:
    The checked model_fn, to give to ``tf.estimator.Estimator``. Mode by mode it returns
    what ``model_fn`` returns: TRAIN, a spec with a scalar float loss and a train_op that
    increments the global step; EVAL, a spec with a scalar loss and valid eval_metric_ops;
    PREDICT, a spec with predictions (each with a batch dimension) and valid export_outputs.

  Raises:
    ArgumentTypeError: ``model_fn`` does not take ``features`` or takes unknown arguments.

  Example:

    @mode_checked
    def model_fn(features, labels, mode):
      logits = tf.keras.layers.Dense(3)(features['x'])
      loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)  # Fails in
      ...                                                                     # PREDICT, clearly.

    estimator = tf.estimator.Estimator(model_fn)
  """
  validation.check_callable('model_fn', model_fn)
  args = _model_fn_args(model_fn)
  names = [a for a in _MODEL_FN_ARGS if a in args or a == 'mode']
  signature = inspect.Signature(
    [
      inspect.Parameter(
        a,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        default=inspect.Parameter.empty if a == 'features' else None,
      )
      for a in names
    ]
  )

  def checked_model_fn(*call_args, **call_kwargs):
    bound = signature.bind(*call_args, **call_kwargs)
    bound.apply_defaults()
    values = dict(bound.arguments)
    mode = values['mode']
    _spec_checks.mode_name(mode)
    kwargs = {a: values[a] for a in args}
    try:
      spec = model_fn(**kwargs)
    except exceptions.TfestError:
      raise
    except (ValueError, TypeError, AttributeError) as err:
      clear = _translate(err, mode, values.get('labels'), 'labels' in args)
      if clear is None:
        raise
      raise clear from err
    return _spec_checks.check_spec(spec, mode)

  try:
    name = model_fn.__name__
  except AttributeError:
    name = type(model_fn).__name__
  checked_model_fn.__name__ = checked_model_fn.__qualname__ = name
  checked_model_fn.__doc__ = model_fn.__doc__
  checked_model_fn.__dict__.update(getattr(model_fn, '__dict__', {}))
  checked_model_fn.__signature__ = signature
  checked_model_fn.mode_checked = True
  return checked_model_fn
