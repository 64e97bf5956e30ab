"""Build a model_fn's TRAIN, EVAL and PREDICT graphs on one batch, without training.

:func:`dry_run` calls the input_fn and the model_fn as the Estimator would, checks each spec,
runs one batch per mode in a throw-away session and reports what each mode returns, so that a
model_fn wrong in one mode fails now rather than when that mode first runs.
"""

import collections
import copy
import html

import numpy as np
import tensorflow as tf
from tensorflow.python.util import function_utils  # The Estimator's own fn_args.
from tensorflow_estimator.python.estimator import util as estimator_util

from tfest_adapters import exceptions
from tfest_adapters._core import groups
from tfest_adapters._core import model_fn_call
from tfest_adapters._core import validation
from tfest_adapters.models import _mode_checked
from tfest_adapters.models import _spec_checks

ModeKeys = tf.estimator.ModeKeys
_ALL_MODES = (ModeKeys.TRAIN, ModeKeys.EVAL, ModeKeys.PREDICT)


def _shape(value):
  return tuple(int(d) for d in np.shape(value))


def _dtype_name(value):
  dtype = getattr(value, 'dtype', None)
  if dtype is None:
    return type(value).__name__
  if dtype.kind in ('S', 'O', 'U'):
    return 'string'
  return str(dtype)


def _format_shape(shape):
  return '(%s)' % ', '.join(str(d) for d in shape) if len(shape) != 1 else '(%d,)' % shape[0]


def _static_description(tensor):
  if isinstance(tensor, tf.SparseTensor):
    return 'sparse %s' % tensor.dtype.name
  return '%s %s' % (tensor.shape, tensor.dtype.name)


class ModeReport:
  """What a model_fn returned in one mode, run on one batch.

  Attributes:
    mode: the ``tf.estimator.ModeKeys`` value; ``name``: 'TRAIN', 'EVAL' or 'PREDICT'.
    features: dict of feature name to its static shape and dtype, as the model_fn got it.
    labels: the labels' static shape and dtype, or None.
    loss: the loss on the batch (TRAIN and EVAL), a float, else None.
    metrics: dict of metric name to its value after one batch (EVAL), else {}.
    predictions: dict of prediction key to ``(shape, dtype)`` of the batch's values (PREDICT).
    export_outputs: dict of signature name to its ExportOutput class name (PREDICT).
    increments_global_step: TRAIN: whether the train op writes the global step (None: the
      walk could not tell, e.g. control flow v2); else None.
    trainable_parameters: number of trainable weights; ``trainable_variables``: their count.
  """

  def __init__(self, mode):
    self.mode = mode
    self.name = _spec_checks.mode_name(mode)
    self.features = {}
    self.labels = None
    self.loss = None
    self.metrics = {}
    self.predictions = {}
    self.export_outputs = {}
    self.increments_global_step = None
    self.trainable_variables = 0
    self.trainable_parameters = 0

  def summary(self):
    """One line per fact, for __str__."""
    lines = []
    if self.loss is not None:
      lines.append('loss %.6g' % self.loss)
    if self.mode == ModeKeys.TRAIN:
      lines.append(
        {
          True: 'train_op increments the global step',
          False: 'train_op does NOT increment the global step',
          None: 'train_op: global step increment not visible (control flow v2)',
        }[self.increments_global_step]
      )
      lines.append(
        '%d trainable parameters in %d variables'
        % (self.trainable_parameters, self.trainable_variables)
      )
    if self.metrics:
      lines.append(
        'metrics: '
        + ', '.join(
          '%s=%s' % (k, ('%.4g' % v) if isinstance(v, float) else v)
          for k, v in sorted(self.metrics.items())
        )
      )
    if self.predictions:
      lines.append(
        'predictions: '
        + ', '.join(
          '%s %s %s' % (k, _format_shape(s), d) for k, (s, d) in sorted(self.predictions.items())
        )
      )
    if self.export_outputs:
      lines.append(
        'signatures: ' + ', '.join('%s (%s)' % kv for kv in sorted(self.export_outputs.items()))
      )
    lines.append('features: ' + ', '.join('%s %s' % kv for kv in sorted(self.features.items())))
    if self.labels is not None:
      lines.append('labels: %s' % self.labels)
    return lines

  def __repr__(self):
    return '<ModeReport %s: %s>' % (self.name, '; '.join(self.summary()[:2]))


class DryRunReport:
  """The :class:`ModeReport` of each mode, readable as text or as an HTML table.

  Index it by mode (``report['train']``, ``report[tf.estimator.ModeKeys.PREDICT]``,
  ``report['PREDICT']``) or use ``report.train``, ``report.eval``, ``report.predict``.
  """

  def __init__(self, mode_reports):
    self.modes = collections.OrderedDict((r.mode, r) for r in mode_reports)

  def __getitem__(self, mode):
    key = {
      'TRAIN': ModeKeys.TRAIN,
      'EVAL': ModeKeys.EVAL,
      'PREDICT': ModeKeys.PREDICT,
      'INFER': ModeKeys.PREDICT,
    }.get(str(mode).upper(), mode)
    if key not in self.modes:
      raise exceptions.ArgumentKeyError(
        'this dry run has no mode %r; it has %s'
        % (mode, ', '.join(r.name for r in self.modes.values()))
      )
    return self.modes[key]

  def __iter__(self):
    return iter(self.modes.values())

  def __len__(self):
    return len(self.modes)

  @property
  def train(self):
    return self[ModeKeys.TRAIN]

  @property
  def eval(self):
    return self[ModeKeys.EVAL]

  @property
  def predict(self):
    return self[ModeKeys.PREDICT]

  def __str__(self):
    lines = [
      'dry run: %s built on one batch each, nothing trained' % ', '.join(r.name for r in self)
    ]
    for report in self:
      summary = report.summary()
      lines.append('%-8s %s' % (report.name, summary[0]))
      lines.extend('%-8s %s' % ('', line) for line in summary[1:])
    return '\n'.join(lines)

  def __repr__(self):
    return '<DryRunReport %s>' % ', '.join(repr(r) for r in self)

  def _repr_html_(self):
    rows = ''.join(
      '<tr><th style="text-align:left;vertical-align:top">%s</th><td style="text-align:left">'
      '%s</td></tr>' % (html.escape(r.name), '<br>'.join(html.escape(line) for line in r.summary()))
      for r in self
    )
    return (
      '<table><caption style="text-align:left">dry run: one batch per mode, nothing '
      'trained</caption>%s</table>' % rows
    )


def _call_input_fn(input_fn, mode, params, config):
  """Calls ``input_fn`` as ``Estimator._call_input_fn`` does."""
  args = function_utils.fn_args(input_fn)
  kwargs = {}
  if 'mode' in args:
    kwargs['mode'] = mode
  if 'params' in args:
    kwargs['params'] = params
  if 'config' in args:
    kwargs['config'] = config
  with tf.compat.v1.device('/cpu:0'):
    return input_fn(**kwargs)


def _features_and_labels(result, mode):
  """Parses an input_fn's result as the Estimator does (a Dataset becomes an iterator)."""
  if isinstance(result, (list, tuple)) and len(result) != 2:
    validation.fail(
      'what input_fn returned in %s' % _spec_checks.mode_name(mode),
      'a tf.data.Dataset, a (features, labels) pair or the features',
      result,
      'return (features, labels), or a Dataset of (features, labels) pairs',
    )
  features, labels, hooks = estimator_util.parse_input_fn_result(result)
  if mode == ModeKeys.PREDICT:
    labels = None  # Estimator.predict drops them too.
  return features, labels, hooks


def _call_model_fn(model_fn, features, labels, mode, params, config):
  """Calls ``model_fn`` as ``Estimator._call_model_fn`` does."""
  return model_fn_call.call_model_fn(
    model_fn,
    function_utils.fn_args(model_fn),
    features,
    labels,
    mode,
    params,
    config,
    lambda: exceptions.ArgumentError(
      'model_fn does not take labels, but the input_fn returns labels in %s: add a labels '
      'argument to the model_fn, or return only the features' % _spec_checks.mode_name(mode)
    ),
  )


def _run(spec, hooks, mode, config, report):
  """Runs one batch through what ``mode`` evaluates (never the train op)."""
  fetches = {}
  if mode in (ModeKeys.TRAIN, ModeKeys.EVAL):
    fetches['loss'] = spec.loss
  metric_values, metric_updates = {}, []
  if mode == ModeKeys.EVAL:
    for name, (value, update) in sorted(spec.eval_metric_ops.items()):
      metric_values[name] = value
      metric_updates.append(update)
    fetches['updates'] = metric_updates
  if mode == ModeKeys.PREDICT:
    fetches['predictions'] = spec.predictions
  ran = {}
  session_creator = tf.compat.v1.train.ChiefSessionCreator(
    scaffold=spec.scaffold, config=config.session_config
  )
  with tf.compat.v1.train.MonitoredSession(session_creator=session_creator, hooks=hooks) as session:
    ran.update(session.run(fetches))
    if metric_values:
      ran['metrics'] = session.run(metric_values)
  if not ran:  # MonitoredSession swallows OutOfRangeError.
    raise exceptions.ArgumentError(
      'the input_fn gave no batch in %s: its Dataset is empty (check the data, and that '
      'batch(..., drop_remainder=True) is not dropping everything)' % report.name
    )
  if 'loss' in ran:
    report.loss = float(np.asarray(ran['loss']))
  for name, value in sorted(ran.get('metrics', {}).items()):
    value = np.asarray(value)
    report.metrics[name] = float(value) if value.size == 1 else value
  predictions = ran.get('predictions')
  if predictions is not None:
    if not isinstance(predictions, dict):
      predictions = {'predictions': predictions}
    report.predictions = {
      k: (_shape(v), _dtype_name(np.asarray(v))) for k, v in predictions.items()
    }


def _dry_run_mode(model_fn, input_fn, mode, params, config):
  report = ModeReport(mode)
  # A probe (groups.probing()): a builder's input_fn draws no call seed for a dry run.
  with tf.Graph().as_default() as graph, groups.probing():
    tf.compat.v1.random.set_random_seed(config.tf_random_seed)
    tf.compat.v1.train.create_global_step(graph)
    features, labels, hooks = _features_and_labels(
      _call_input_fn(input_fn, mode, params, config), mode
    )
    spec = _call_model_fn(model_fn, features, labels, mode, params, config)
    report.features = (
      {k: _static_description(v) for k, v in features.items()}
      if isinstance(features, dict)
      else {'<features>': _static_description(features)}
    )
    if labels is not None and not isinstance(labels, dict):
      report.labels = _static_description(labels)
    elif isinstance(labels, dict):
      report.labels = ', '.join(
        '%s %s' % (k, _static_description(v)) for k, v in sorted(labels.items())
      )
    trainable = tf.compat.v1.trainable_variables()
    report.trainable_variables = len(trainable)
    report.trainable_parameters = int(sum(v.shape.num_elements() or 0 for v in trainable))
    if mode == ModeKeys.TRAIN:
      report.increments_global_step = _spec_checks.increments_global_step(spec.train_op)
    if mode == ModeKeys.PREDICT:
      report.export_outputs = {k: type(v).__name__ for k, v in (spec.export_outputs or {}).items()}
    _run(spec, hooks, mode, config, report)
  return report


def dry_run(model_fn, input_fn, params=None, config=None, modes=None):
  """Builds the TRAIN, EVAL and PREDICT graphs on one batch without training; reports them.

  For each mode, in a fresh graph seeded from ``config.tf_random_seed``: creates the global
  step, calls ``input_fn`` and ``model_fn`` as ``tf.estimator.Estimator`` does (only the
  arguments they take; a Dataset becomes an initialised iterator; PREDICT gets labels=None),
  checks the spec with :func:`mode_checked`'s rules, then runs one batch in a session that
  initialises fresh variables: the loss (TRAIN, EVAL), the metric updates and values (EVAL),
  the predictions (PREDICT). The train op is never run; no model_dir is read or written.

  Args:
    model_fn: a model_fn, as given to ``tf.estimator.Estimator``.
    input_fn: an input_fn, as given to ``train``/``evaluate``/``predict``. It gets the mode
      if it takes one, so a mode-aware input_fn gives each mode its own data.
    params: the params the Estimator would pass (deep-copied, as the Estimator does).
    config: a ``tf.estimator.RunConfig`` (default: ``RunConfig()``).
    modes: the modes to build, default all three (TRAIN, EVAL, PREDICT).

  Returns:
    A :class:`DryRunReport`: per mode, the loss on the batch, metric names and values,
    prediction keys with shapes and dtypes, signature names, feature and label shapes,
    whether the train op increments the global step. ``print(report)`` shows it as text; in
    a notebook it shows as a table.

  Raises:
    SpecError, ArgumentError: as :func:`mode_checked` and :func:`check_spec` raise them
      (naming the mode, the field and the fix), or for an input_fn returning nothing usable.

  Example:

    report = dry_run(classifier_model_fn, train_input_fn,
                     params=dict(feature_keys=['x1', 'x2'], hidden_units=[8], n_classes=3))
    print(report)
    report.predict.predictions['probabilities']  # ((batch_size, 3), 'float32')
  """
  validation.check_callable('input_fn', input_fn)
  checked = (
    model_fn if getattr(model_fn, 'mode_checked', False) else _mode_checked.mode_checked(model_fn)
  )
  if config is None:
    config = tf.estimator.RunConfig()
  if not isinstance(config, tf.estimator.RunConfig):
    validation.fail(
      'config', 'a tf.estimator.RunConfig', config, error=exceptions.ArgumentTypeError
    )
  if params is not None and not isinstance(params, dict):
    validation.fail('params', 'None or a dict', params, error=exceptions.ArgumentTypeError)
  if params and 'params' not in function_utils.fn_args(checked):
    raise exceptions.ArgumentError(
      'params were given, but model_fn takes no params argument (the Estimator would refuse '
      'it too): add params to the model_fn arguments, or drop params'
    )
  params = copy.deepcopy(params or {})
  if modes is None:
    modes = _ALL_MODES
  for mode in modes:
    _spec_checks.mode_name(mode)
  return DryRunReport([_dry_run_mode(checked, input_fn, mode, params, config) for mode in modes])
