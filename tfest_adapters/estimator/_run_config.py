"""The RunConfig of make_estimator: its options checked, model_dir resolved, placement added.

A RunConfig option with a bad value, or a ``model_dir`` that cannot work, is refused here with
a message naming the option, what was expected and what was given.
"""

import difflib
import inspect
import json
import os
import tempfile
import warnings

from tfest_adapters import exceptions
from tfest_adapters._core import validation
from tfest_adapters.estimator import _placement


def _run_config_parameters():
  """The argument names of ``tf.estimator.RunConfig``."""
  import tensorflow as tf

  names = list(inspect.signature(tf.estimator.RunConfig.__init__).parameters)
  return [n for n in names if n != 'self']


def _check_ckpt_secs(name, value):
  return validation.check_positive_number(name, value)


def _check_session_config(name, value):
  import tensorflow as tf

  if not isinstance(value, tf.compat.v1.ConfigProto):
    validation.fail(name, 'a tf.compat.v1.ConfigProto', value, error=exceptions.ArgumentTypeError)


def _check_strategy(name, value):
  import tensorflow as tf

  if not isinstance(value, tf.distribute.Strategy):
    validation.fail(name, 'a tf.distribute.Strategy', value, error=exceptions.ArgumentTypeError)


def _check_device_fn(name, value):
  from tensorflow.python.util import function_utils

  if not callable(value) or tuple(function_utils.fn_args(value)) != ('op',):
    validation.fail(
      name, 'a function of exactly one argument `op`', value, error=exceptions.ArgumentTypeError
    )


def _check_protocol(name, value):
  validation.check_one_of(name, value, ('grpc', 'grpc+verbs'))


def _check_int(name, value):
  if not isinstance(value, int) or isinstance(value, bool):
    validation.fail(name, 'an int', value, error=exceptions.ArgumentTypeError)


def _check_model_dir(name, value):
  if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
    validation.fail(
      name, 'a non-empty path (str or os.PathLike)', value, error=exceptions.ArgumentTypeError
    )


# RunConfig field -> check(name, value) for a value that is not None.
_RUN_CONFIG_CHECKS = {
  'model_dir': _check_model_dir,
  'tf_random_seed': validation.check_non_negative_int,
  'save_summary_steps': validation.check_non_negative_int,
  'save_checkpoints_steps': validation.check_positive_int,
  'save_checkpoints_secs': _check_ckpt_secs,
  'session_config': _check_session_config,
  'keep_checkpoint_max': validation.check_non_negative_int,
  'keep_checkpoint_every_n_hours': validation.check_positive_number,
  'log_step_count_steps': validation.check_positive_int,
  'train_distribute': _check_strategy,
  'eval_distribute': _check_strategy,
  'device_fn': _check_device_fn,
  'protocol': _check_protocol,
  'experimental_max_worker_delay_secs': _check_int,
  'session_creation_timeout_secs': validation.check_positive_int,
  'checkpoint_save_graph_def': validation.check_bool,
}


def validate_run_config_options(options):
  """Checks make_estimator's ``**run_config_options``: known RunConfig fields, good values."""
  valid = _run_config_parameters()
  for name, value in options.items():
    if name not in valid:
      close = difflib.get_close_matches(name, valid, n=1)
      raise exceptions.ArgumentError(
        '%r is not a make_estimator argument nor a tf.estimator.RunConfig option%s '
        'RunConfig options: %s'
        % (name, "; did you mean '%s'?" % close[0] if close else '.', ', '.join(valid))
      )
    check = _RUN_CONFIG_CHECKS.get(name)
    if check is not None and value is not None:
      check(name, value)
  if (
    options.get('save_checkpoints_steps') is not None
    and options.get('save_checkpoints_secs') is not None
  ):
    raise exceptions.ArgumentError(
      'save_checkpoints_steps and save_checkpoints_secs cannot both be set, given: '
      'save_checkpoints_steps=%r, save_checkpoints_secs=%r. Set one of them; a checkpoint '
      'is always saved at the end of training as well'
      % (options['save_checkpoints_steps'], options['save_checkpoints_secs'])
    )


def _tf_config_model_dir():
  """The model_dir a TF_CONFIG may carry (RunConfig reads it too), or None."""
  try:
    return json.loads(os.environ.get('TF_CONFIG') or '{}').get('model_dir') or None
  except (ValueError, AttributeError):
    return None


def _resolve_model_dir(model_dir, config_model_dir):
  import tensorflow as tf

  if model_dir is not None:
    _check_model_dir('model_dir', model_dir)
    model_dir = os.fspath(model_dir)
  if (
    model_dir
    and config_model_dir
    and (os.path.abspath(model_dir) != os.path.abspath(config_model_dir))
  ):
    raise exceptions.ArgumentError(
      'model_dir and config.model_dir differ, given: model_dir=%r, config.model_dir=%r. '
      'Give one of them' % (model_dir, config_model_dir)
    )
  model_dir = model_dir or config_model_dir or _tf_config_model_dir()
  if model_dir is None:
    model_dir = tempfile.mkdtemp(prefix='tfest-model-')
    warnings.warn(
      'model_dir not given: training into the temporary directory %s. Its checkpoints are '
      'not cleaned up, and are lost to you once you lose its name; pass model_dir=... to '
      'keep them' % model_dir,
      UserWarning,
      stacklevel=3,
    )
  elif tf.io.gfile.exists(model_dir) and not tf.io.gfile.isdir(model_dir):
    validation.fail(
      'model_dir',
      'a directory, or a path where one can be created',
      model_dir,
      'A file is already there',
    )
  return model_dir


def _config_fields(config):
  """The constructor arguments that rebuild ``config``."""
  fields = {}
  for name in _run_config_parameters():
    if hasattr(config, name):
      fields[name] = getattr(config, name)
  # RunConfig stores experimental_distribute and checkpoint_save_graph_def without properties.
  for name in ('experimental_distribute', 'checkpoint_save_graph_def'):
    if hasattr(config, '_' + name):
      fields[name] = getattr(config, '_' + name)
  return fields


def build_run_config(config=None, model_dir=None, seed=None, devices='auto', options=None):
  """The RunConfig make_estimator uses: ``config`` + options + model_dir + seed + placement.

  Args:
    config: a ``tf.estimator.RunConfig`` or None.
    model_dir: see :func:`make_estimator`.
    seed: int or None; becomes ``tf_random_seed``.
    devices: see :func:`make_estimator`.
    options: dict of RunConfig fields overriding ``config``'s (validated by the caller).

  Returns:
    A new ``tf.estimator.RunConfig`` (the one given is not modified).
  """
  import tensorflow as tf

  options = dict(options or {})
  if config is not None and not isinstance(config, tf.estimator.RunConfig):
    validation.fail(
      'config', 'a tf.estimator.RunConfig or None', config, error=exceptions.ArgumentTypeError
    )
  if seed is not None:
    given = options.get('tf_random_seed', config.tf_random_seed if config else None)
    if given is not None and given != seed:
      raise exceptions.ArgumentError(
        'seed and tf_random_seed disagree, given: seed=%r, tf_random_seed=%r. Give seed '
        'only' % (seed, given)
      )
    options['tf_random_seed'] = seed
  if 'model_dir' in options:
    if (
      model_dir is not None
      and options['model_dir'] is not None
      and (os.fspath(model_dir) != os.fspath(options['model_dir']))
    ):
      raise exceptions.ArgumentError(
        'model_dir was given twice with different values: %r and model_dir=%r in the '
        'RunConfig options' % (model_dir, options['model_dir'])
      )
    model_dir = options.pop('model_dir') if model_dir is None else model_dir
    options.pop('model_dir', None)

  fields = _config_fields(config) if config is not None else {}
  if devices != 'auto':
    for name in ('train_distribute', 'eval_distribute'):
      if options.get(name) is not None or fields.get(name) is not None:
        raise exceptions.ArgumentError(
          'devices=%r and a %s strategy were both given. Give one of them'
          % (list(devices) if isinstance(devices, tuple) else devices, name)
        )
  # Checkpointing by steps or by seconds: whichever the options name replaces the config's.
  if options.get('save_checkpoints_steps') is not None:
    options.setdefault('save_checkpoints_secs', None)
  if options.get('save_checkpoints_secs') is not None:
    options.setdefault('save_checkpoints_steps', None)
  fields.update(options)
  fields['model_dir'] = _resolve_model_dir(model_dir, fields.get('model_dir'))

  try:
    probe = tf.estimator.RunConfig(**fields)
  except (ValueError, TypeError) as e:
    raise exceptions.ArgumentError('tf.estimator.RunConfig refused the options: %s' % e) from e
  fields['session_config'] = _placement.session_config(devices, probe.session_config)
  user_strategy = fields.get('train_distribute') or fields.get('eval_distribute')
  if user_strategy is None:
    strategy = _placement.distribution(devices, probe)
    if strategy is not None:
      fields['train_distribute'] = strategy
      fields['eval_distribute'] = strategy
  return tf.estimator.RunConfig(**fields)
