"""train_and_evaluate: ``tf.estimator.train_and_evaluate`` with its silent defaults made explicit.

The call goes straight to TF's, so a TF_CONFIG cluster works as it does in TensorFlow; what
changes is the defaults (the whole eval input, every checkpoint evaluated) and fit's guards.
"""

import os

from tfest_adapters import estimator as estimator_lib
from tfest_adapters import exceptions
from tfest_adapters import serving
from tfest_adapters._core import validation
from tfest_adapters.training import _arguments
from tfest_adapters.training import _checkpoints
from tfest_adapters.training import _compatibility
from tfest_adapters.training import _input_checks
from tfest_adapters.training import _lock
from tfest_adapters.training import _nan_guard
from tfest_adapters.training import _numerics

BEST_EXPORTER_NAME = 'best_exporter'
_CLUSTER_POLL_SECS = 10


def _default_throttle_secs(config):
  if not estimator_lib.in_cluster(config):
    return 0
  if config.save_checkpoints_secs:
    return int(config.save_checkpoints_secs)
  return _CLUSTER_POLL_SECS


def _is_chief_or_local(config):
  return (
    not estimator_lib.in_cluster(config)
    or config.task_type in ('chief', 'master')
    or (config.task_type is None)
  )


def train_and_evaluate(
  estimator,
  train_spec_or_input_fn,
  eval_spec_or_input_fn,
  *,
  max_steps=None,
  eval_steps=None,
  throttle_secs=None,
  start_delay_secs=0,
  sample_features=None,
  feature_spec=None,
  parse_examples=False,
  exports_to_keep=5,
  exporters=None,
  train_hooks=(),
  eval_hooks=(),
  eval_name=None,
  check_numerics=False,
  lock=True,
):
  """Trains and evaluates with ``tf.estimator.train_and_evaluate`` (TF_CONFIG clusters too).

  As in :func:`fit`, a NaN or Inf loss stops training and its step is not saved, and a
  model_dir holding a checkpoint of another model is refused before the session.

  Example:

    metrics, exports = tfa.train_and_evaluate(
        estimator, train_fn, test_fn, max_steps=2000, sample_features=x_test[:2])
    # metrics: the last evaluation; exports: the BestExporter's export directories.

  Args:
    estimator: a ``tf.estimator.Estimator`` (its RunConfig reads TF_CONFIG).
    train_spec_or_input_fn: a ``tf.estimator.TrainSpec``, or the training input_fn (then
      ``max_steps`` and ``train_hooks`` make the TrainSpec).
    eval_spec_or_input_fn: a ``tf.estimator.EvalSpec`` (used as given), or the eval input_fn
      (then the keyword arguments below make the EvalSpec).
    max_steps: global step to train to (None: until the training input runs out; refused
      when it repeats forever).
    eval_steps: batches per evaluation; None evaluates the whole eval input (refused when it
      repeats forever). TF's own default would be 100.
    throttle_secs: minimum seconds between evaluations. None: run locally, every checkpoint
      is evaluated; in a cluster the evaluator looks every ``save_checkpoints_secs`` (every
      10 seconds with step-based checkpoints). TF's own default would be 600.
    start_delay_secs: seconds the evaluator of a cluster waits before its first look (TF's
      own default would be 120; it waits for the first checkpoint anyway).
    sample_features, feature_spec, parse_examples: build the serving receiver of a
      ``tf.estimator.BestExporter`` (see :func:`export_saved_model`) that exports the model
      each time the eval loss improves, to ``<model_dir>/export/best_exporter/``. Neither:
      no export.
    exports_to_keep: exports the BestExporter keeps.
    exporters: more ``tf.estimator.Exporter`` objects for the EvalSpec.
    train_hooks, eval_hooks: SessionRunHooks for training / evaluation.
    eval_name: name of the evaluation (event files in ``eval_<name>``).
    check_numerics: check every float feature and label of every training batch for NaN
      and Inf; see :func:`fit`.
    lock: hold the model_dir lock while training (chief or local run only); see :func:`fit`.

  Returns:
    ``(metrics, exports)`` where this process ran locally (no cluster): ``metrics`` is the
    dict of the last evaluation (None when none ran) and ``exports`` the list of export
    directories written by exporters. In a cluster role, ``(None, [])``: evaluations and
    exports live in model_dir.

  Raises:
    ArgumentError, ArgumentTypeError: bad arguments, before training.
    ModelDirError: the checkpoint is already at ``max_steps``, another training holds the
      model_dir lock, or model_dir holds a checkpoint of another model (chief or local run).
    TrainingError: a non-finite loss (or, with check_numerics, input).
  """
  import tensorflow as tf

  _arguments.validate_estimator(estimator)
  config = estimator.config
  if config.save_checkpoints_steps is None and config.save_checkpoints_secs is None:
    raise exceptions.ArgumentError(
      'train_and_evaluate evaluates each checkpoint, but the RunConfig saves none '
      '(save_checkpoints_steps and save_checkpoints_secs are both None). Set one of them'
    )

  validation.check_bool('check_numerics', check_numerics)
  validation.check_bool('lock', lock)
  train_spec, train_result = _train_spec(estimator, train_spec_or_input_fn, max_steps, train_hooks)
  eval_spec = _eval_spec(
    estimator,
    config,
    eval_spec_or_input_fn,
    eval_steps=eval_steps,
    throttle_secs=throttle_secs,
    start_delay_secs=start_delay_secs,
    sample_features=sample_features,
    feature_spec=feature_spec,
    parse_examples=parse_examples,
    exports_to_keep=exports_to_keep,
    exporters=exporters,
    eval_hooks=eval_hooks,
    eval_name=eval_name,
  )
  if _is_chief_or_local(config):
    _checkpoints.check_max_steps_not_reached(estimator.model_dir, train_spec.max_steps)
  train_spec = _guarded_train_spec(estimator, train_spec, train_result, check_numerics)

  with _lock.lock_for_config(estimator.model_dir, config, 'train_and_evaluate', lock):
    result = tf.estimator.train_and_evaluate(estimator, train_spec, eval_spec)
  if result is None:
    return None, []
  metrics, export_results = result
  exports = []
  for path in export_results or []:
    if path:
      exports.append(path.decode() if isinstance(path, bytes) else path)
  return metrics, exports


def _train_spec(estimator, train_spec_or_input_fn, max_steps, train_hooks):
  import tensorflow as tf

  if isinstance(train_spec_or_input_fn, tf.estimator.TrainSpec):
    if max_steps is not None or train_hooks:
      raise exceptions.ArgumentError(
        'max_steps and train_hooks go into the TrainSpec when one is given, given: '
        'max_steps=%r, train_hooks=%r besides a TrainSpec' % (max_steps, train_hooks)
      )
    spec = train_spec_or_input_fn
    result, _ = _input_checks.check_input_fn(
      estimator, spec.input_fn, tf.estimator.ModeKeys.TRAIN, 'train_spec.input_fn', spec.max_steps
    )
    return spec, result
  if not callable(train_spec_or_input_fn):
    validation.fail(
      'train_spec_or_input_fn',
      'a tf.estimator.TrainSpec or an input_fn',
      train_spec_or_input_fn,
      error=exceptions.ArgumentTypeError,
    )
  max_steps = validation.check_optional_positive_int('max_steps', max_steps)
  hooks = _arguments.validate_hooks(train_hooks)
  result, _ = _input_checks.check_input_fn(
    estimator, train_spec_or_input_fn, tf.estimator.ModeKeys.TRAIN, 'train input_fn', max_steps
  )
  return (tf.estimator.TrainSpec(train_spec_or_input_fn, max_steps=max_steps, hooks=hooks), result)


_COLLECTIVE_STRATEGIES = (
  'CollectiveAllReduceStrategy',
  'CollectiveAllReduceStrategyV1',
  'MultiWorkerMirroredStrategy',
)


def _guarded_train_spec(estimator, spec, train_result, check_numerics):
  """The TrainSpec with fit's guards.

  The NaN hook on every role; the save veto and the other-model check only where
  checkpoints are written (chief or local).
  """
  import tensorflow as tf

  config = estimator.config
  hook, veto = _nan_guard.non_finite_guard(
    estimator.model_dir, _nan_guard.input_names(train_result)
  )
  hooks = [hook] + list(spec.hooks)
  listeners = list(spec.saving_listeners)
  if _lock.should_lock(config):
    hooks.insert(0, _compatibility.CheckpointCompatibilityHook(estimator.model_dir))
    # TF refuses saving listeners with collective strategies (they save from every worker).
    if type(config.train_distribute).__name__ not in _COLLECTIVE_STRATEGIES:
      listeners.append(veto)
  input_fn = spec.input_fn
  if check_numerics:
    input_fn = _numerics.check_numerics_input_fn(input_fn)
  return tf.estimator.TrainSpec(
    input_fn, max_steps=spec.max_steps, hooks=hooks, saving_listeners=listeners
  )


def _eval_spec(
  estimator,
  config,
  eval_spec_or_input_fn,
  *,
  eval_steps,
  throttle_secs,
  start_delay_secs,
  sample_features,
  feature_spec,
  parse_examples,
  exports_to_keep,
  exporters,
  eval_hooks,
  eval_name,
):
  import tensorflow as tf

  if isinstance(eval_spec_or_input_fn, tf.estimator.EvalSpec):
    given = dict(
      eval_steps=eval_steps,
      throttle_secs=throttle_secs,
      sample_features=sample_features,
      feature_spec=feature_spec,
      exporters=exporters,
      eval_name=eval_name,
    )
    clashing = sorted(k for k, v in given.items() if v is not None)
    if clashing or eval_hooks:
      raise exceptions.ArgumentError(
        '%s go into the EvalSpec when one is given, given besides an EvalSpec'
        % (', '.join(clashing + (['eval_hooks'] if eval_hooks else [])))
      )
    return eval_spec_or_input_fn
  if not callable(eval_spec_or_input_fn):
    validation.fail(
      'eval_spec_or_input_fn',
      'a tf.estimator.EvalSpec or an input_fn',
      eval_spec_or_input_fn,
      error=exceptions.ArgumentTypeError,
    )
  eval_steps = validation.check_optional_positive_int('eval_steps', eval_steps)
  if throttle_secs is None:
    throttle_secs = _default_throttle_secs(config)
  throttle_secs = validation.check_non_negative_int('throttle_secs', throttle_secs)
  start_delay_secs = validation.check_non_negative_int('start_delay_secs', start_delay_secs)
  exports_to_keep = validation.check_positive_int('exports_to_keep', exports_to_keep)
  if eval_name is not None and (not isinstance(eval_name, str) or not eval_name):
    validation.fail('eval_name', 'None or a non-empty string', eval_name)
  _input_checks.check_input_fn(
    estimator, eval_spec_or_input_fn, tf.estimator.ModeKeys.EVAL, 'eval input_fn', eval_steps
  )
  all_exporters = list(exporters or [])
  for exporter in all_exporters:
    if not isinstance(exporter, tf.estimator.Exporter):
      validation.fail(
        'exporters', 'a list of tf.estimator.Exporter', exporter, error=exceptions.ArgumentTypeError
      )
  if sample_features is not None or feature_spec is not None:
    receiver_fn = serving.build_serving_input_receiver_fn(
      sample_features=sample_features, feature_spec=feature_spec, parse_examples=parse_examples
    )
    eval_dir = 'eval' if not eval_name else 'eval_' + eval_name
    all_exporters.append(
      tf.estimator.BestExporter(
        name=BEST_EXPORTER_NAME,
        serving_input_receiver_fn=receiver_fn,
        event_file_pattern=os.path.join(eval_dir, '*.tfevents.*'),
        exports_to_keep=exports_to_keep,
      )
    )
  return tf.estimator.EvalSpec(
    eval_spec_or_input_fn,
    steps=eval_steps,
    name=eval_name,
    hooks=_arguments.validate_hooks(eval_hooks),
    exporters=all_exporters or None,
    start_delay_secs=start_delay_secs,
    throttle_secs=throttle_secs,
  )
