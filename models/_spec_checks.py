"""What an EstimatorSpec must hold in each mode, checked with messages that say how to fix it.

:func:`check_spec` checks a spec against its mode with one small ``_validate_<field>`` function
per field, as ``EstimatorSpec.__new__`` does; each error names the mode, the field and the fix.
"""

import tensorflow as tf

from tfest_adapters import exceptions
from tfest_adapters._core import validation

ModeKeys = tf.estimator.ModeKeys
_MODE_NAMES = {ModeKeys.TRAIN: 'TRAIN', ModeKeys.EVAL: 'EVAL', ModeKeys.PREDICT: 'PREDICT'}
_RESERVED_METRICS = ('loss', 'global_step')  # The Estimator adds these itself.
_GLOBAL_STEP_FIX = (
  'pass global_step=tf.compat.v1.train.get_or_create_global_step() to optimizer.minimize('
  'loss, ...) (tf.compat.v1.train optimizers), or set keras_optimizer.iterations = '
  'tf.compat.v1.train.get_or_create_global_step() before building its update (legacy Keras '
  'optimizers)'
)
# Ops that write a variable through its first input; control flow v2 and functions hide what
# they run, so a train_op built with them is not judged.
_WRITE_OPS = frozenset(
  [
    'AssignAddVariableOp',
    'AssignVariableOp',
    'AssignSubVariableOp',
    'AssignAdd',
    'Assign',
    'AssignSub',
  ]
)
_OPAQUE_OPS = frozenset(
  [
    'While',
    'StatelessWhile',
    'If',
    'StatelessIf',
    'Case',
    'StatelessCase',
    'PartitionedCall',
    'StatefulPartitionedCall',
  ]
)


def mode_name(mode):
  """Returns 'TRAIN', 'EVAL' or 'PREDICT' for a ``tf.estimator.ModeKeys`` value."""
  if mode not in _MODE_NAMES:
    validation.fail(
      'mode',
      'one of tf.estimator.ModeKeys.TRAIN, EVAL, PREDICT (%s)'
      % ', '.join(repr(m) for m in _MODE_NAMES),
      mode,
    )
  return _MODE_NAMES[mode]


def spec_error(mode, text):
  """The SpecError for a spec of ``mode``: its message is the mode's name, then ``text``."""
  return exceptions.SpecError('%s %s' % (mode_name(mode), text))


def _fail(mode, text):
  raise spec_error(mode, text)


def _is_tensor(value):
  return isinstance(value, (tf.Tensor, tf.Variable))


def _validate_type(spec, mode):
  if not isinstance(spec, tf.estimator.EstimatorSpec):
    raise exceptions.SpecError(
      'model_fn returned %s in %s; it must return a tf.estimator.EstimatorSpec: return '
      'tf.estimator.EstimatorSpec(mode, ...)' % (validation.describe(spec), mode_name(mode))
    )


def _validate_spec_mode(spec_mode, mode):
  if spec_mode != mode:
    _fail(
      mode,
      'spec has mode %r: build it with the mode the model_fn was called with, '
      'tf.estimator.EstimatorSpec(mode, ...)' % (spec_mode,),
    )


def _missing_predictions(mode):
  _fail(
    mode,
    'spec has no predictions: return EstimatorSpec(mode, predictions=...) before '
    'computing a loss (labels are None in PREDICT)',
  )


def _validate_predictions(predictions, mode):
  """PREDICT needs a Tensor or a dict of str to Tensor, each with a batch dimension."""
  if predictions is None or (isinstance(predictions, dict) and not predictions):
    if mode == ModeKeys.PREDICT:
      _missing_predictions(mode)
    return
  if not isinstance(predictions, dict):
    if not _is_tensor(predictions):
      _fail(
        mode,
        'spec predictions must be a Tensor or a dict of str to Tensor, given: %s'
        % validation.describe(predictions),
      )
    predictions = {'predictions': predictions}
  for key, value in predictions.items():
    if not isinstance(key, str):
      _fail(mode, 'spec predictions keys must be str, given: %r' % (key,))
    if not _is_tensor(value):
      _fail(
        mode,
        'spec predictions[%r] must be a Tensor, given: %s. Compute it with '
        'TensorFlow ops from the features' % (key, validation.describe(value)),
      )
  if mode != ModeKeys.PREDICT:
    return
  batch_sizes = {}
  for key, value in sorted(predictions.items()):
    if value.shape.rank == 0:
      _fail(
        mode,
        'spec predictions[%r] has shape (), but Estimator.predict splits every '
        'prediction along its first (batch) dimension: give it one value per example, '
        'e.g. shape [batch_size] or [batch_size, 1]' % key,
      )
    if value.shape.rank is not None and value.shape[0] is not None:
      batch_sizes[key] = value.shape[0]
  if len(set(batch_sizes.values())) > 1:
    _fail(
      mode,
      'spec predictions have different batch sizes (%s): every prediction needs one '
      'row per example of the batch'
      % ', '.join('%r: %d' % kv for kv in sorted(batch_sizes.items())),
    )


def _validate_loss(loss, mode):
  """TRAIN and EVAL need a scalar loss (float in TRAIN, for gradients)."""
  if mode == ModeKeys.PREDICT:
    return
  other = (
    'train_op=optimizer.minimize(loss, ...)' if mode == ModeKeys.TRAIN else 'eval_metric_ops={...}'
  )
  if loss is None:
    _fail(
      mode,
      'spec has no loss: return EstimatorSpec(mode, loss=loss, %s) with a scalar '
      'loss computed from the labels' % other,
    )
  if not _is_tensor(loss):
    _fail(mode, 'spec loss must be a scalar Tensor, given: %s' % validation.describe(loss))
  if loss.shape.num_elements() not in (None, 1):
    _fail(
      mode,
      'spec loss must be a scalar Tensor, given: %s. Reduce the per-example losses, '
      'e.g. loss = tf.reduce_mean(per_example_loss)' % validation.describe(loss),
    )
  if mode == ModeKeys.TRAIN and not loss.dtype.is_floating:
    _fail(
      mode,
      'spec loss must be a float Tensor to have gradients, given: %s. Compute it '
      'from the logits with a float loss function' % validation.describe(loss),
    )


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
  step_op = _source_op(global_step if not hasattr(global_step, 'handle') else global_step.handle)
  seen, stack, opaque, library = {op}, [op], False, None
  while stack:
    current = stack.pop()
    if current.type in _WRITE_OPS and current.inputs and (_source_op(current.inputs[0]) is step_op):
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
    _fail(
      mode,
      'spec has no train_op: return EstimatorSpec(mode, loss=loss, train_op=optimizer.'
      'minimize(loss, global_step=tf.compat.v1.train.get_or_create_global_step()))',
    )
  if not isinstance(train_op, (tf.Operation, tf.Tensor, tf.Variable)):
    _fail(
      mode,
      'spec train_op must be an Operation or a Tensor, given: %s' % validation.describe(train_op),
    )
  if increments_global_step(train_op) is False:
    _fail(
      mode,
      'spec train_op does not increment the global step, so train(steps=N) would '
      'never stop: %s' % _GLOBAL_STEP_FIX,
    )


def _validate_eval_metric_ops(eval_metric_ops, mode):
  """EVAL metrics are (value, update_op) pairs or updated Keras metrics, not named 'loss'."""
  if mode != ModeKeys.EVAL or not eval_metric_ops:
    return
  if not isinstance(eval_metric_ops, dict):
    _fail(
      mode,
      'spec eval_metric_ops must be a dict of name to metric, given: %s'
      % validation.describe(eval_metric_ops),
    )
  for key, value in eval_metric_ops.items():
    if not isinstance(key, str):
      _fail(mode, 'spec eval_metric_ops keys must be str, given: %r' % (key,))
    if key in _RESERVED_METRICS:
      _fail(
        mode,
        'spec eval_metric_ops has a metric named %r, a name the Estimator reserves '
        'for its own %s: rename it, e.g. %r'
        % (key, 'mean loss' if key == 'loss' else 'step count', 'my_' + key),
      )
    if isinstance(value, tf.keras.metrics.Metric):
      if not value.updates:
        _fail(
          mode,
          'spec eval_metric_ops[%r] is a Keras metric that was never updated: call '
          'metric.update_state(labels, predictions) in the model_fn before returning it' % key,
        )
      continue
    if (
      not isinstance(value, tuple)
      or len(value) != 2
      or not all(isinstance(v, (tf.Tensor, tf.Operation, tf.Variable)) for v in value)
    ):
      _fail(
        mode,
        'spec eval_metric_ops[%r] must be a (value, update_op) pair, as '
        'tf.compat.v1.metrics.accuracy(labels, predictions) returns, or an updated '
        'tf.keras.metrics.Metric, given: %s' % (key, validation.describe(value)),
      )


def _validate_export_outputs(export_outputs, mode):
  """PREDICT export_outputs: ExportOutputs by signature name, one of them the default."""
  if mode != ModeKeys.PREDICT or export_outputs is None:
    return
  if not isinstance(export_outputs, dict):
    _fail(
      mode,
      'spec export_outputs must be a dict of signature name to ExportOutput, given: '
      '%s' % validation.describe(export_outputs),
    )
  for key, value in export_outputs.items():
    if not isinstance(value, tf.estimator.export.ExportOutput):
      _fail(
        mode,
        'spec export_outputs[%r] must be a tf.estimator.export.ExportOutput '
        '(ClassificationOutput, RegressionOutput or PredictOutput), given: %s'
        % (key, validation.describe(value)),
      )
  default = tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY
  if len(export_outputs) > 1 and default not in export_outputs:
    _fail(
      mode,
      'spec export_outputs has %d signatures (%s) and none named %r: name the one '
      'served by default %r (tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY)'
      % (len(export_outputs), ', '.join(sorted(export_outputs)), default, default),
    )


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


def missing_field_error(field, mode):
  """The SpecError :func:`check_spec` raises for a spec of ``mode`` without ``field``.

  Args:
    field: ``'predictions'``, ``'loss'`` or ``'train_op'``.
    mode: a ``tf.estimator.ModeKeys`` value.

  Returns:
    The error, or None when ``mode`` does not need ``field`` (a loss in PREDICT, a train_op
    outside TRAIN).
  """
  checks = {
    'predictions': lambda: _missing_predictions(mode),
    'loss': lambda: _validate_loss(None, mode),
    'train_op': lambda: _validate_train_op(None, mode),
  }
  try:
    checks[field]()
  except exceptions.SpecError as error:
    return error
  return None
