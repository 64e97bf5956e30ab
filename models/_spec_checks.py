"""What an EstimatorSpec must hold in each mode, checked with messages that say how to fix it.

An Estimator calls the model_fn three ways: TRAIN (needs a loss and a train_op that increments
the global step), EVAL (a loss, and optionally eval_metric_ops) and PREDICT (predictions,
optionally export_outputs; labels are None). When a model_fn gets this wrong, TensorFlow fails
late or deep (``Missing predictions.``, ``None values not supported.``, or ``train(steps=N)``
never returning). :func:`check_spec` checks a spec against its mode with a chain of small
``_validate_<field>(value, mode)`` functions, as ``EstimatorSpec.__new__`` does, and
:func:`mode_checked` wraps any model_fn so that every spec it returns is checked and the deep
errors above are re-raised as a :class:`~tfest_adapters.exceptions.SpecError` naming the
mode, the field and the fix (the original error chained).
"""

import inspect
import os
import re
import traceback

import tensorflow as tf
from tensorflow.python.util import function_utils  # The Estimator's own fn_args.

from tfest_adapters._core import validation
from tfest_adapters import exceptions

ModeKeys = tf.estimator.ModeKeys
_MODE_NAMES = {ModeKeys.TRAIN: 'TRAIN', ModeKeys.EVAL: 'EVAL', ModeKeys.PREDICT: 'PREDICT'}
_MODEL_FN_ARGS = ('features', 'labels', 'mode', 'params', 'config')
_RESERVED_METRICS = ('loss', 'global_step')  # The Estimator adds these itself.
_GLOBAL_STEP_FIX = (
    'pass global_step=tf.compat.v1.train.get_or_create_global_step() to optimizer.minimize('
    'loss, ...) (tf.compat.v1.train optimizers), or set keras_optimizer.iterations = '
    'tf.compat.v1.train.get_or_create_global_step() before building its update (legacy Keras '
    'optimizers)')
# Ops that write a variable through its first input; control flow v2 and functions hide what
# they run, so a train_op built with them is not judged.
_WRITE_OPS = frozenset(['AssignAddVariableOp', 'AssignVariableOp', 'AssignSubVariableOp',
                        'AssignAdd', 'Assign', 'AssignSub'])
_OPAQUE_OPS = frozenset(['While', 'StatelessWhile', 'If', 'StatelessIf', 'Case',
                         'StatelessCase', 'PartitionedCall', 'StatefulPartitionedCall'])
# What TensorFlow and Python say when a loss or metric is computed from labels=None.
_NONE_LABELS = re.compile(
    r'None values not supported|NoneType|must not be None|Given: None|labels=None|'
    r'value \(None\) with an unsupported type')


def mode_name(mode):
  """Returns 'TRAIN', 'EVAL' or 'PREDICT' for a ``tf.estimator.ModeKeys`` value."""
  if mode not in _MODE_NAMES:
    validation.fail('mode', 'one of tf.estimator.ModeKeys.TRAIN, EVAL, PREDICT (%s)' %
                     ', '.join(repr(m) for m in _MODE_NAMES), mode)
  return _MODE_NAMES[mode]


def _fail(mode, text):
  raise exceptions.SpecError('%s %s' % (mode_name(mode), text))


def _is_tensor(value):
  return isinstance(value, (tf.Tensor, tf.Variable))


def _validate_type(spec, mode):
  if not isinstance(spec, tf.estimator.EstimatorSpec):
    raise exceptions.SpecError(
        'model_fn returned %s in %s; it must return a tf.estimator.EstimatorSpec: return '
        'tf.estimator.EstimatorSpec(mode, ...)' % (validation.describe(spec), mode_name(mode)))


def _validate_spec_mode(spec_mode, mode):
  if spec_mode != mode:
    _fail(mode, 'spec has mode %r: build it with the mode the model_fn was called with, '
          'tf.estimator.EstimatorSpec(mode, ...)' % (spec_mode,))


def _missing_predictions(mode):
  _fail(mode, 'spec has no predictions: return EstimatorSpec(mode, predictions=...) before '
        'computing a loss (labels are None in PREDICT)')


def _validate_predictions(predictions, mode):
  """PREDICT needs a Tensor or a dict of str to Tensor, each with a batch dimension."""
  if predictions is None or (isinstance(predictions, dict) and not predictions):
    if mode == ModeKeys.PREDICT:
      _missing_predictions(mode)
    return
  if not isinstance(predictions, dict):
    if not _is_tensor(predictions):
      _fail(mode, 'spec predictions must be a Tensor or a dict of str to Tensor, given: %s' %
            validation.describe(predictions))
    predictions = {'predictions': predictions}
  for key, value in predictions.items():
    if not isinstance(key, str):
      _fail(mode, 'spec predictions keys must be str, given: %r' % (key,))
    if not _is_tensor(value):
      _fail(mode, 'spec predictions[%r] must be a Tensor, given: %s. Compute it with '
            'TensorFlow ops from the features' % (key, validation.describe(value)))
  if mode != ModeKeys.PREDICT:
    return
  batch_sizes = {}
  for key, value in sorted(predictions.items()):
    if value.shape.rank == 0:
      _fail(mode, 'spec predictions[%r] has shape (), but Estimator.predict splits every '
            'prediction along its first (batch) dimension: give it one value per example, '
            'e.g. shape [batch_size] or [batch_size, 1]' % key)
    if value.shape.rank is not None and value.shape[0] is not None:
      batch_sizes[key] = value.shape[0]
  if len(set(batch_sizes.values())) > 1:
    _fail(mode, 'spec predictions have different batch sizes (%s): every prediction needs one '
          'row per example of the batch' % ', '.join(
              '%r: %d' % kv for kv in sorted(batch_sizes.items())))


def _validate_loss(loss, mode):
  """TRAIN and EVAL need a scalar loss (float in TRAIN, for gradients)."""
  if mode == ModeKeys.PREDICT:
    return
  other = ('train_op=optimizer.minimize(loss, ...)' if mode == ModeKeys.TRAIN else
           'eval_metric_ops={...}')
  if loss is None:
    _fail(mode, 'spec has no loss: return EstimatorSpec(mode, loss=loss, %s) with a scalar '
          'loss computed from the labels' % other)
  if not _is_tensor(loss):
    _fail(mode, 'spec loss must be a scalar Tensor, given: %s' % validation.describe(loss))
  if loss.shape.num_elements() not in (None, 1):
    _fail(mode, 'spec loss must be a scalar Tensor, given: %s. Reduce the per-example losses, '
          'e.g. loss = tf.reduce_mean(per_example_loss)' % validation.describe(loss))
  if mode == ModeKeys.TRAIN and not loss.dtype.is_floating:
    _fail(mode, 'spec loss must be a float Tensor to have gradients, given: %s. Compute it '
          'from the logits with a float loss function' % validation.describe(loss))


def _source_op(tensor):
  """The op that makes ``tensor``, looking through Identity ops."""
  op = tensor.op
  while op.type == 'Identity' and op.inputs:
    op = op.inputs[0].op
  return op


def _function_names(node_def):
  """Names of the functions a node calls (control flow v2, function calls)."""
  names = []
  for attr in node_def.attr.values():
    if attr.HasField('func'):
      names.append(attr.func.name)
    names.extend(f.name for f in attr.list.func)
  return names


def _functions_write_variables(node_def, library, seen):
  """True if a function-calling node may write a variable (checked through nested calls)."""
  for name in _function_names(node_def):
    if name in seen:
      continue
    seen.add(name)
    function = library.get(name)
    if function is None:
      return True
    for node in function.node_def:
      if node.op in _WRITE_OPS or node.op.startswith('ResourceApply'):
        return True
      if _functions_write_variables(node, library, seen):
        return True
  return False


def increments_global_step(train_op):
  """True if running ``train_op`` writes the global step; False if not; None if unknown.

  Walks the ops ``train_op`` depends on (data and control inputs). Unknown when the graph
  has no global step, or when the walk meets a function or control-flow-v2 op whose body
  writes variables (what it writes is not visible from outside; assertion guards, which
  write nothing, do not count).
  """
  op = train_op if isinstance(train_op, tf.Operation) else train_op.op
  global_step = tf.compat.v1.train.get_global_step(op.graph)
  if global_step is None:
    return None
  step_op = _source_op(global_step if not hasattr(global_step, 'handle')
                       else global_step.handle)
  seen, stack, opaque, library = {op}, [op], False, None
  while stack:
    current = stack.pop()
    if current.type in _WRITE_OPS and current.inputs and (
        _source_op(current.inputs[0]) is step_op):
      return True
    if current.type in _OPAQUE_OPS and not opaque:
      if library is None:
        library = {f.signature.name: f for f in op.graph.as_graph_def().library.function}
      opaque = _functions_write_variables(current.node_def, library, set())
    for parent in [t.op for t in current.inputs] + list(current.control_inputs):
      if parent not in seen:
        seen.add(parent)
        stack.append(parent)
  return None if opaque else False


def _validate_train_op(train_op, mode):
  """TRAIN needs a train_op that increments the global step (else train(steps=N) hangs)."""
  if mode != ModeKeys.TRAIN:
    return
  if train_op is None:
    _fail(mode, 'spec has no train_op: return EstimatorSpec(mode, loss=loss, train_op=optimizer.'
          'minimize(loss, global_step=tf.compat.v1.train.get_or_create_global_step()))')
  if not isinstance(train_op, (tf.Operation, tf.Tensor, tf.Variable)):
    _fail(mode, 'spec train_op must be an Operation or a Tensor, given: %s' %
          validation.describe(train_op))
  if increments_global_step(train_op) is False:
    _fail(mode, 'spec train_op does not increment the global step, so train(steps=N) would '
          'never stop: %s' % _GLOBAL_STEP_FIX)


def _validate_eval_metric_ops(eval_metric_ops, mode):
  """EVAL metrics are (value, update_op) pairs or updated Keras metrics, not named 'loss'."""
  if mode != ModeKeys.EVAL or not eval_metric_ops:
    return
  if not isinstance(eval_metric_ops, dict):
    _fail(mode, 'spec eval_metric_ops must be a dict of name to metric, given: %s' %
          validation.describe(eval_metric_ops))
  for key, value in eval_metric_ops.items():
    if not isinstance(key, str):
      _fail(mode, 'spec eval_metric_ops keys must be str, given: %r' % (key,))
    if key in _RESERVED_METRICS:
      _fail(mode, 'spec eval_metric_ops has a metric named %r, a name the Estimator reserves '
            'for its own %s: rename it, e.g. %r' % (
                key, 'mean loss' if key == 'loss' else 'step count', 'my_' + key))
    if isinstance(value, tf.keras.metrics.Metric):
      if not value.updates:
        _fail(mode, 'spec eval_metric_ops[%r] is a Keras metric that was never updated: call '
              'metric.update_state(labels, predictions) in the model_fn before returning it' %
              key)
      continue
    if (not isinstance(value, tuple) or len(value) != 2 or
        not all(isinstance(v, (tf.Tensor, tf.Operation, tf.Variable)) for v in value)):
      _fail(mode, 'spec eval_metric_ops[%r] must be a (value, update_op) pair, as '
            'tf.compat.v1.metrics.accuracy(labels, predictions) returns, or an updated '
            'tf.keras.metrics.Metric, given: %s' % (key, validation.describe(value)))


def _validate_export_outputs(export_outputs, mode):
  """PREDICT export_outputs: ExportOutputs by signature name, one of them the default."""
  if mode != ModeKeys.PREDICT or export_outputs is None:
    return
  if not isinstance(export_outputs, dict):
    _fail(mode, 'spec export_outputs must be a dict of signature name to ExportOutput, given: '
          '%s' % validation.describe(export_outputs))
  for key, value in export_outputs.items():
    if not isinstance(value, tf.estimator.export.ExportOutput):
      _fail(mode, 'spec export_outputs[%r] must be a tf.estimator.export.ExportOutput '
            '(ClassificationOutput, RegressionOutput or PredictOutput), given: %s' % (
                key, validation.describe(value)))
  default = tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY
  if len(export_outputs) > 1 and default not in export_outputs:
    _fail(mode, 'spec export_outputs has %d signatures (%s) and none named %r: name the one '
          'served by default %r (tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY)' % (
              len(export_outputs), ', '.join(sorted(export_outputs)), default, default))


def check_spec(spec, mode):
  """Checks that ``spec`` is what an Estimator needs in ``mode``; returns it.

  Args:
    spec: what a model_fn returned.
    mode: the ``tf.estimator.ModeKeys`` the model_fn was called with.

  Returns:
    ``spec``, unchanged.

  Raises:
    SpecError: naming the mode, the field and the fix, e.g. ``PREDICT spec has no
      predictions: return EstimatorSpec(mode, predictions=...) before computing a loss
      (labels are None in PREDICT)``.
    ArgumentError: ``mode`` is not a ModeKeys value.

  Example:

    spec = my_model_fn(features, labels, tf.estimator.ModeKeys.TRAIN, params)
    check_spec(spec, tf.estimator.ModeKeys.TRAIN)
  """
  mode_name(mode)
  _validate_type(spec, mode)
  _validate_spec_mode(spec.mode, mode)
  _validate_predictions(spec.predictions, mode)
  _validate_loss(spec.loss, mode)
  _validate_train_op(spec.train_op, mode)
  _validate_eval_metric_ops(spec.eval_metric_ops, mode)
  _validate_export_outputs(spec.export_outputs, mode)
  return spec


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
  name = mode_name(mode)
  if isinstance(err, AttributeError) and "has no attribute 'get_updates'" in text:
    return exceptions.ArgumentError(
        "%s: a new-style Keras optimizer was given to a TF head, which calls get_updates (%s): "
        'pass the legacy one, e.g. tf.keras.optimizers.legacy.Adam(...), with its iterations '
        'set to tf.compat.v1.train.get_or_create_global_step(); tfest_adapters.models.'
        'make_model_fn does both for you' % (name, text))
  if takes_labels and labels is None and _NONE_LABELS.search(text):
    if mode == ModeKeys.PREDICT:
      try:
        _missing_predictions(mode)
      except exceptions.SpecError as clear:
        return exceptions.SpecError('%s. The model_fn failed on labels=None with %s: %s' % (
            clear, type(err).__name__, text))
    return exceptions.ArgumentError(
        '%s model_fn got labels=None and failed on it (%s: %s): in TRAIN and EVAL the input_fn '
        'must return (features, labels), or a tf.data.Dataset of (features, labels) pairs' % (
            name, type(err).__name__, text))
  if not _raised_by_estimator_spec(err):
    return None
  # EstimatorSpec.__new__ refused the spec; say the same with the fix.
  checks = {
      'Missing predictions.': lambda: _missing_predictions(mode),
      'Missing loss.': lambda: _validate_loss(None, mode),
      'Missing train_op.': lambda: _validate_train_op(None, mode),
  }
  try:
    if text in checks:
      checks[text]()
    if text.startswith('Loss must be scalar'):
      _fail(mode, 'spec loss must be a scalar Tensor (%s). Reduce the per-example losses, e.g. '
            'loss = tf.reduce_mean(per_example_loss)' % text)
    if re.match(r'Multiple .?export_outputs.? were provided', text):
      _fail(mode, 'spec export_outputs has several signatures and none named %r: name the one '
            'served by default %r (%s)' % ((tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY,) * 2
                                            + (text,)))
    if text.startswith('Values of eval_metric_ops must be'):
      _fail(mode, 'spec eval_metric_ops values must be (value, update_op) pairs, as '
            'tf.compat.v1.metrics.accuracy(labels, predictions) returns, or updated '
            'tf.keras.metrics.Metric objects (%s)' % text)
    if text.startswith('Please call update_state'):
      _fail(mode, 'spec eval_metric_ops has a Keras metric that was never updated: call '
            'metric.update_state(labels, predictions) before returning it (%s)' % text)
  except exceptions.SpecError as clear:
    return clear
  return None


def _model_fn_args(model_fn):
  args = tuple(function_utils.fn_args(model_fn))
  if 'features' not in args:
    validation.fail('model_fn', 'a function taking a features argument', model_fn,
                     'define it as model_fn(features, labels, mode, params, config)',
                     error=exceptions.ArgumentTypeError)
  unknown = [a for a in args if a not in _MODEL_FN_ARGS]
  if unknown:
    validation.fail('model_fn', 'a function taking only %s' % ', '.join(_MODEL_FN_ARGS),
                     model_fn, 'it also takes %s' % ', '.join(unknown),
                     error=exceptions.ArgumentTypeError)
  return args


def mode_checked(model_fn):
  """Wraps a model_fn so that every spec it returns is checked against its mode.

  The wrapper takes the same arguments as ``model_fn`` (plus ``mode``, which it needs), so
  the Estimator passes it exactly what it passed before. It calls ``model_fn``, re-raises the
  deep errors of a wrong model_fn clearly (a loss computed from ``labels=None`` in PREDICT,
  a spec that ``tf.estimator.EstimatorSpec`` refuses, a new-style Keras optimizer given to a
  head), chaining the original, then runs :func:`check_spec` on the result.

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
  signature = inspect.Signature([
      inspect.Parameter(a, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                        default=inspect.Parameter.empty if a == 'features' else None)
      for a in names])

  def checked_model_fn(*call_args, **call_kwargs):
    bound = signature.bind(*call_args, **call_kwargs)
    bound.apply_defaults()
    values = dict(bound.arguments)
    mode = values['mode']
    mode_name(mode)
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
    return check_spec(spec, mode)

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
