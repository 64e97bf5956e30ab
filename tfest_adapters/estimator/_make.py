"""make_estimator: a real ``tf.estimator.Estimator`` with checked arguments, seeds and placement.

Everything the Estimator would refuse late (a RunConfig option with a bad value, ``params``
given to a ``model_fn`` without a ``params`` argument, a ``warm_start_from`` path that does not
exist, a ``model_dir`` that is a file) is refused here, before any graph is built, with a
message naming the argument, what was expected and what was given. Nothing here trains, and
nothing touches an existing checkpoint.
"""

import copy
import difflib
import inspect
import json
import os
import random
import tempfile
import warnings

import numpy as np

from tfest_adapters._core import model_fn_call
from tfest_adapters.estimator import _placement
from tfest_adapters._core import seeding
from tfest_adapters._core import validation
from tfest_adapters import exceptions

_VALID_MODEL_FN_ARGS = model_fn_call.VALID_ARGS


def make_estimator(model_fn, params=None, model_dir=None, config=None, warm_start_from=None,
                   *, seed=None, devices='auto', keep_session=True, **run_config_options):
  """Builds a ``tf.estimator.Estimator`` from a model_fn, with checked arguments.

  Example:

    estimator = make_estimator(my_model_fn, params=dict(n_classes=3), model_dir='runs/a',
                               seed=0, save_checkpoints_steps=500, keep_checkpoint_max=3)
    estimator.train(train_input_fn, max_steps=1000)

  Args:
    model_fn: ``model_fn(features, labels, mode, params, config) -> tf.estimator.EstimatorSpec``;
      ``labels``, ``mode``, ``params`` and ``config`` are optional in its signature, as with
      the Estimator. It is called once per graph the Estimator builds (train, eval, predict,
      export); with a seed, the graph and Keras are seeded just before each call.
    params: dict of hyperparameters handed to ``model_fn`` as ``params`` (deep-copied), or None.
    model_dir: where checkpoints and event files go. None with no ``config.model_dir`` trains
      into a new temporary directory, with a warning (it is lost when you lose its name).
    config: a ``tf.estimator.RunConfig`` to start from, or None. ``run_config_options``
      override its fields.
    warm_start_from: a checkpoint prefix, a model_dir or SavedModel directory, or a
      ``tf.estimator.WarmStartSettings``, to initialize a new model from (ignored by TF once
      model_dir holds a checkpoint of its own).
    seed: int >= 0 seeding everything that matters for a repeatable run: the RunConfig's
      ``tf_random_seed`` (graph-level seed of every graph), Keras' initializers in each graph,
      and NumPy's and Python's global generators (data order of input_fns that draw from them)
      once, now. None leaves all of them alone.
    devices: ``'auto'`` (soft placement: a GPU when there is one; a MirroredStrategy over all
      GPUs when there are several), ``'cpu'`` (CPU only) or a list of device names to mirror
      over. With a strategy, the input_fn must return a ``tf.data.Dataset`` whose batch size is
      per replica (a step trains on ``batch_size * num_replicas`` rows); see
      :mod:`tfest_adapters.estimator._placement`.
    keep_session: bool (keyword-only). True (default): the graph and session of a
      ``train()`` call are kept for the next one, which then builds nothing (~0.05-0.1 s instead
      of ~0.5-1 s per call for the templates here: bench/RESULTS.md), with the same weights,
      data, checkpoints and summaries as TF's path; the input_fn is still called at every call,
      but the model_fn is not (its graph must depend only on its arguments). Calls that could
      tell the difference (another checkpoint in model_dir, a caller's hooks, saving listeners,
      an input_fn returning tensors, ...) train as TF's Estimator; see
      :mod:`tfest_adapters.estimator._kept_session`. ``estimator.close()`` frees the session. False:
      every call builds anew, as TF's Estimator does.
    **run_config_options: fields of ``tf.estimator.RunConfig`` (``save_checkpoints_steps``,
      ``keep_checkpoint_max``, ``save_summary_steps``, ``log_step_count_steps``, ...).

  Returns:
    A ``tf.estimator.Estimator`` (a subclass, ``tfest_adapters.estimator._estimator.Estimator``).
    Its ``model_fn`` is yours, wrapped only to seed each graph; its config has soft
    placement, GPU memory growth and the chosen distribution strategy. ``train`` works as
    ``fit`` trains: ``steps``/``max_steps`` stop exactly with ``steps_per_run`` groups, the
    restored checkpoint is not re-saved at the start of each call, the graph is not
    written again to model_dir when it is the one this Estimator already wrote there, and
    (``keep_session``) further calls reuse the last call's graph and session.

  Raises:
    ArgumentError, ArgumentTypeError, ArgumentKeyError: an argument cannot work (params of
      a template included: its ``check_params``); raised before any graph.
  """
  validation.check_callable('model_fn', model_fn)
  params = _validate_params(params)
  _validate_model_fn_args(model_fn, params)
  _validate_template_params(model_fn, params)
  if seed is not None:
    validation.check_non_negative_int('seed', seed)
  devices = _placement.validate_devices(devices)
  _validate_run_config_options(run_config_options)
  warm_start_from = _validate_warm_start_from(warm_start_from)
  validation.check_bool('keep_session', keep_session)
  config = build_run_config(config, model_dir, seed, devices, run_config_options)
  if seed is not None:
    # Data order: input_fns drawing from the global generators (the user's, set once here).
    np.random.seed(seed)
    random.seed(seed)

  from tfest_adapters.estimator import _estimator
  return _estimator.Estimator(
      model_fn=seeded_model_fn(model_fn), model_dir=config.model_dir, config=config,
      params=params if params is not None else {}, warm_start_from=warm_start_from,
      keep_session=keep_session)


def seeded_model_fn(model_fn):
  """Wraps ``model_fn`` so that each graph it builds is seeded from ``config.tf_random_seed``.

  The wrapper takes every argument the Estimator can pass and hands on only those that
  ``model_fn`` takes, exactly as ``Estimator._call_model_fn`` does.
  """
  from tensorflow.python.util import function_utils
  args = set(function_utils.fn_args(model_fn))

  def model_fn_with_seed(features, labels, mode, params, config):
    seeding.seed_graph(config.tf_random_seed if config is not None else None)
    return model_fn_call.call_model_fn(
        model_fn, args, features, labels, mode, params, config,
        # The Estimator's own message (estimator.py, _call_model_fn).
        lambda: ValueError('model_fn does not take labels, but input_fn returns labels.'))

  model_fn_with_seed.__name__ = getattr(model_fn, '__name__', 'model_fn')
  model_fn_with_seed.__qualname__ = getattr(model_fn, '__qualname__', 'model_fn')
  model_fn_with_seed.__doc__ = getattr(model_fn, '__doc__', None)
  model_fn_with_seed.seeded_model_fn = model_fn
  return model_fn_with_seed


# ----------------------------------------------------------------------------- validation


def _describe_fn(fn):
  name = getattr(fn, '__qualname__', None) or getattr(fn, '__name__', None)
  return name or repr(fn)


def _validate_params(params):
  if params is None:
    return None
  if not isinstance(params, dict):
    validation.fail('params', 'a dict of hyperparameters or None', params,
                     error=exceptions.ArgumentTypeError)
  try:
    copy.deepcopy(params)
  except Exception as e:  # pylint: disable=broad-except
    validation.fail('params', 'a dict the Estimator can deep-copy', params,
                     'deepcopy failed with %s: %s' % (type(e).__name__, e))
  return params


def _validate_model_fn_args(model_fn, params):
  """The checks of estimator.py's ``_verify_model_fn_args``, with clearer messages."""
  from tensorflow.python.util import function_utils
  try:
    args = function_utils.fn_args(model_fn)
  except (ValueError, TypeError) as e:
    raise exceptions.ArgumentError(
        'model_fn must be a function whose arguments can be read, given: %s (%s)' % (
            _describe_fn(model_fn), e)) from None
  shown = '(%s)' % ', '.join(args)
  if 'features' not in args:
    validation.fail(
        'model_fn', 'a function with a `features` argument', model_fn,
        'Its arguments are %s; the Estimator calls it as model_fn(features=..., labels=..., '
        'mode=..., params=..., config=...), passing only the arguments it names' % shown)
  unknown = [a for a in args if a not in _VALID_MODEL_FN_ARGS]
  if unknown:
    validation.fail(
        'model_fn', 'a function whose arguments are among %s' % ', '.join(_VALID_MODEL_FN_ARGS),
        model_fn, 'It also takes %s, which the Estimator never passes: bind them with '
        'functools.partial or a closure (a model_fn builder), or move them into params' % (
            ', '.join(unknown)))
  if params is not None and 'params' not in args:
    raise exceptions.ArgumentError(
        'params were given (%s) but model_fn %s takes no `params` argument (its arguments '
        'are %s). Add a `params` argument to model_fn, or drop params' % (
            validation.describe(params), _describe_fn(model_fn), ', '.join(args)))


def _validate_template_params(model_fn, params):
  """A model_fn with a ``check_params`` (the templates) has its params checked now.

  ``classifier_model_fn`` and ``regressor_model_fn`` check their params when the Estimator
  first calls them, while building a graph; their ``check_params`` runs the same check
  without one, so a typo or a bad value is refused here, before anything is built.
  """
  check = getattr(model_fn, 'check_params', None)
  if callable(check):
    check(params if params is not None else {})


def _run_config_parameters():
  import tensorflow as tf
  names = list(inspect.signature(tf.estimator.RunConfig.__init__).parameters)
  return [n for n in names if n != 'self']


def _check_optional(check):
  def validate(name, value):
    return None if value is None else check(name, value)
  return validate


def _check_ckpt_secs(name, value):
  return validation.check_positive_number(name, value)


def _check_session_config(name, value):
  import tensorflow as tf
  if not isinstance(value, tf.compat.v1.ConfigProto):
    validation.fail(name, 'a tf.compat.v1.ConfigProto', value,
                     error=exceptions.ArgumentTypeError)


def _check_strategy(name, value):
  import tensorflow as tf
  if not isinstance(value, tf.distribute.Strategy):
    validation.fail(name, 'a tf.distribute.Strategy', value,
                     error=exceptions.ArgumentTypeError)


def _check_device_fn(name, value):
  from tensorflow.python.util import function_utils
  if not callable(value) or tuple(function_utils.fn_args(value)) != ('op',):
    validation.fail(name, 'a function of exactly one argument `op`', value,
                     error=exceptions.ArgumentTypeError)


def _check_protocol(name, value):
  validation.check_one_of(name, value, ('grpc', 'grpc+verbs'))


def _check_int(name, value):
  if not isinstance(value, int) or isinstance(value, bool):
    validation.fail(name, 'an int', value, error=exceptions.ArgumentTypeError)


def _check_model_dir(name, value):
  if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
    validation.fail(name, 'a non-empty path (str or os.PathLike)', value,
                     error=exceptions.ArgumentTypeError)


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


def _validate_run_config_options(options):
  valid = _run_config_parameters()
  for name, value in options.items():
    if name not in valid:
      close = difflib.get_close_matches(name, valid, n=1)
      raise exceptions.ArgumentError(
          '%r is not a make_estimator argument nor a tf.estimator.RunConfig option%s '
          'RunConfig options: %s' % (
              name, "; did you mean '%s'?" % close[0] if close else '.', ', '.join(valid)))
    check = _RUN_CONFIG_CHECKS.get(name)
    if check is not None and value is not None:
      check(name, value)
  if (options.get('save_checkpoints_steps') is not None and
      options.get('save_checkpoints_secs') is not None):
    raise exceptions.ArgumentError(
        'save_checkpoints_steps and save_checkpoints_secs cannot both be set, given: '
        'save_checkpoints_steps=%r, save_checkpoints_secs=%r. Set one of them; a checkpoint '
        'is always saved at the end of training as well' % (
            options['save_checkpoints_steps'], options['save_checkpoints_secs']))


def _checkpoint_exists(path):
  import tensorflow as tf
  if tf.io.gfile.isdir(path):
    return bool(tf.train.latest_checkpoint(path) or
                tf.io.gfile.exists(os.path.join(path, 'saved_model.pb')) or
                tf.io.gfile.exists(os.path.join(path, 'saved_model.pbtxt')))
  return tf.io.gfile.exists(path + '.index') or tf.io.gfile.exists(path + '.meta')


def _validate_warm_start_from(warm_start_from):
  if warm_start_from is None:
    return None
  import tensorflow as tf
  if isinstance(warm_start_from, tf.estimator.WarmStartSettings):
    path = warm_start_from.ckpt_to_initialize_from
    name = 'warm_start_from.ckpt_to_initialize_from'
  elif isinstance(warm_start_from, (str, bytes, os.PathLike)):
    path = os.fsdecode(warm_start_from)
    warm_start_from = path
    name = 'warm_start_from'
  else:
    validation.fail('warm_start_from',
                     'a checkpoint path, a directory or a tf.estimator.WarmStartSettings',
                     warm_start_from, error=exceptions.ArgumentTypeError)
  if not _checkpoint_exists(os.fsdecode(path)):
    validation.fail(
        name, 'an existing checkpoint prefix (such as runs/a/model.ckpt-100), a model_dir '
        'holding a checkpoint, or a SavedModel directory', os.fsdecode(path),
        'Nothing to warm-start from was found there')
  return warm_start_from


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
  if model_dir and config_model_dir and (
      os.path.abspath(model_dir) != os.path.abspath(config_model_dir)):
    raise exceptions.ArgumentError(
        'model_dir and config.model_dir differ, given: model_dir=%r, config.model_dir=%r. '
        'Give one of them' % (model_dir, config_model_dir))
  model_dir = model_dir or config_model_dir or _tf_config_model_dir()
  if model_dir is None:
    model_dir = tempfile.mkdtemp(prefix='tfest-model-')
    warnings.warn(
        'model_dir not given: training into the temporary directory %s. Its checkpoints are '
        'not cleaned up, and are lost to you once you lose its name; pass model_dir=... to '
        'keep them' % model_dir, UserWarning, stacklevel=3)
  elif tf.io.gfile.exists(model_dir) and not tf.io.gfile.isdir(model_dir):
    validation.fail('model_dir', 'a directory, or a path where one can be created',
                     model_dir, 'A file is already there')
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
    validation.fail('config', 'a tf.estimator.RunConfig or None', config,
                     error=exceptions.ArgumentTypeError)
  if seed is not None:
    given = options.get('tf_random_seed', config.tf_random_seed if config else None)
    if given is not None and given != seed:
      raise exceptions.ArgumentError(
          'seed and tf_random_seed disagree, given: seed=%r, tf_random_seed=%r. Give seed '
          'only' % (seed, given))
    options['tf_random_seed'] = seed
  if 'model_dir' in options:
    if model_dir is not None and options['model_dir'] is not None and (
        os.fspath(model_dir) != os.fspath(options['model_dir'])):
      raise exceptions.ArgumentError(
          'model_dir was given twice with different values: %r and model_dir=%r in the '
          'RunConfig options' % (model_dir, options['model_dir']))
    model_dir = options.pop('model_dir') if model_dir is None else model_dir
    options.pop('model_dir', None)

  fields = _config_fields(config) if config is not None else {}
  if devices != 'auto':
    for name in ('train_distribute', 'eval_distribute'):
      if options.get(name) is not None or fields.get(name) is not None:
        raise exceptions.ArgumentError(
            'devices=%r and a %s strategy were both given. Give one of them' % (
                list(devices) if isinstance(devices, tuple) else devices, name))
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
