"""make_estimator: a real ``tf.estimator.Estimator`` with checked arguments, seeds and placement.

What the Estimator would refuse late (``params`` given to a ``model_fn`` without a ``params``
argument, a ``warm_start_from`` path that does not exist, a bad RunConfig option) is refused
here, before any graph is built; nothing here trains or touches an existing checkpoint.
"""

import copy
import os
import random

import numpy as np

from tfest_adapters import exceptions
from tfest_adapters import models
from tfest_adapters._core import groups
from tfest_adapters._core import model_fn_call
from tfest_adapters._core import seeding
from tfest_adapters._core import validation
from tfest_adapters.estimator import _estimator
from tfest_adapters.estimator import _placement
from tfest_adapters.estimator import _run_config

_VALID_MODEL_FN_ARGS = model_fn_call.VALID_ARGS
# The templates' optimizer params (models/_params.py, _linear_params.py, _wide_deep_params.py).
_OPTIMIZER_KEYS = ('optimizer', 'linear_optimizer', 'dnn_optimizer')


def make_estimator(
  model_fn,
  params=None,
  model_dir=None,
  config=None,
  warm_start_from=None,
  *,
  seed=None,
  devices='auto',
  keep_session=True,
  **run_config_options,
):
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
      For a template (``classifier_model_fn``, ``regressor_model_fn``), an optimizer object
      under ``'optimizer'`` (``tf.keras.optimizers.Adam(1e-3)``, legacy Keras, tf.compat.v1) is
      converted by ``models.make_optimizer_fn``, which the Estimator can deep-copy.
      ``params['steps_per_run']``: training steps per ``session.run`` (read by the templates
      and the input builders). Default for the templates (``classifier_model_fn``,
      ``regressor_model_fn``, ``make_model_fn``'s): ``'auto'``, K chosen at the first
      training from a measured step (see ``Estimator.resolve_steps_per_run``); 1 restores one
      step per run.
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
      ``train()`` call are kept for the next one, which then builds nothing (the fixed cost
      per call is measured by bench/train_throughput.py), with the same weights, data,
      checkpoints and summaries as TF's path; the input_fn is still called at every call,
      but the model_fn is not (its graph must depend only on its arguments). Calls that could
      tell the difference (another checkpoint in model_dir, a caller's hooks, saving
      listeners, an input_fn returning tensors, ...) train as TF's Estimator; see
      :mod:`tfest_adapters.estimator._kept_session`. ``estimator.close()`` frees the session.
      False: every call builds anew, as TF's Estimator does.
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
  params = _validate_params(params, model_fn)
  _validate_model_fn_args(model_fn, params)
  _validate_template_params(model_fn, params)
  if seed is not None:
    validation.check_non_negative_int('seed', seed)
  devices = _placement.validate_devices(devices)
  _run_config.validate_run_config_options(run_config_options)
  warm_start_from = _validate_warm_start_from(warm_start_from)
  validation.check_bool('keep_session', keep_session)
  params, steps_per_run = _steps_per_run_of(model_fn, params)
  config = _run_config.build_run_config(config, model_dir, seed, devices, run_config_options)
  if seed is not None:
    # Data order: input_fns drawing from the global generators (the user's, set once here).
    np.random.seed(seed)
    random.seed(seed)
  return _estimator.Estimator(
    model_fn=seeded_model_fn(model_fn),
    model_dir=config.model_dir,
    config=config,
    params=params if params is not None else {},
    warm_start_from=warm_start_from,
    keep_session=keep_session,
    steps_per_run=steps_per_run,
  )


def _steps_per_run_of(model_fn, params):
  """(params, ``'auto'`` or None): ``'auto'`` when asked, or by default for a template.

  By default only for a template whose loop pays for these params (its
  ``steps_per_run_pays``: not a linear part with categorical columns, docs/templates.md).
  An ``'auto'`` is taken out of the params: the Estimator puts the K it chooses there.
  """
  value = (params or {}).get(groups.PARAMS_KEY)
  if isinstance(value, str) and value == groups.AUTO:
    return {k: v for k, v in params.items() if k != groups.PARAMS_KEY}, groups.AUTO
  if value is None and getattr(model_fn, groups.TRAINS_GROUPS_ATTR, False) is True:
    if _loop_pays(model_fn, params or {}):
      return params, groups.AUTO
  return params, None


def _loop_pays(model_fn, params):
  """A template's ``steps_per_run_pays(params)``; True for a model_fn without one."""
  pays = getattr(model_fn, 'steps_per_run_pays', None)
  return pays is None or bool(pays(params))


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
      model_fn,
      args,
      features,
      labels,
      mode,
      params,
      config,
    )

  model_fn_with_seed.__name__ = getattr(model_fn, '__name__', 'model_fn')
  model_fn_with_seed.__qualname__ = getattr(model_fn, '__qualname__', 'model_fn')
  model_fn_with_seed.__doc__ = getattr(model_fn, '__doc__', None)
  # What the model_fn says of itself (mode_checked, a template's check_params) stays readable;
  # not its __signature__: the wrapper takes every argument.
  model_fn_with_seed.__dict__.update(
    (k, v) for k, v in getattr(model_fn, '__dict__', {}).items() if not k.startswith('__')
  )
  return model_fn_with_seed


# ----------------------------------------------------------------------------- validation


def _describe_fn(fn):
  name = getattr(fn, '__qualname__', None) or getattr(fn, '__name__', None)
  return name or repr(fn)


def _is_template(model_fn):
  """True for a model_fn that checks its params itself (the templates: ``check_params``)."""
  return callable(getattr(model_fn, 'check_params', None))


def _is_optimizer_object(value):
  """An optimizer given as an object (not a name, a callable or None)."""
  return value is not None and not isinstance(value, str) and not callable(value)


def _validate_params(params, model_fn):
  """params, checked; a template's optimizer object converted so that it can be deep-copied."""
  if params is None:
    return None
  if not isinstance(params, dict):
    validation.fail(
      'params', 'a dict of hyperparameters or None', params, error=exceptions.ArgumentTypeError
    )
  if _is_template(model_fn):
    # As the template would (models/_params.py), but now: Keras optimizers refuse deepcopy.
    params = dict(params)
    for key in _OPTIMIZER_KEYS:
      if _is_optimizer_object(params.get(key)):
        params[key] = models.make_optimizer_fn(params[key], name='params[%r]' % key)
  for key, value in params.items():
    _validate_param_copies(key, value, is_optimizer=key in _OPTIMIZER_KEYS)
  return params


def _validate_param_copies(key, value, is_optimizer):
  """The Estimator deep-copies params: a value that cannot be copied is named with the fix."""
  try:
    copy.deepcopy(value)
  except Exception as e:
    fix = (
      'Give a name such as %r, or tfest_adapters.models.make_optimizer_fn(optimizer), which '
      'can be copied' % models.OPTIMIZER_NAMES[1]
      if is_optimizer
      else 'Put a value that can be copied there (a number, a string, a list, a callable '
      'making the object), or build the object inside the model_fn'
    )
    validation.fail(
      'params[%r]' % (key,),
      'a value the Estimator can deep-copy (it copies params)',
      value,
      'copy.deepcopy failed with %s: %s. %s' % (type(e).__name__, e, fix),
    )


def _validate_model_fn_args(model_fn, params):
  """The checks of estimator.py's ``_verify_model_fn_args``, with clearer messages."""
  from tensorflow.python.util import function_utils

  try:
    args = function_utils.fn_args(model_fn)
  except (ValueError, TypeError) as e:
    raise exceptions.ArgumentError(
      'model_fn must be a function whose arguments can be read, given: %s (%s)'
      % (_describe_fn(model_fn), e)
    ) from None
  shown = '(%s)' % ', '.join(args)
  if 'features' not in args:
    validation.fail(
      'model_fn',
      'a function with a `features` argument',
      model_fn,
      'Its arguments are %s; the Estimator calls it as model_fn(features=..., labels=..., '
      'mode=..., params=..., config=...), passing only the arguments it names' % shown,
    )
  unknown = [a for a in args if a not in _VALID_MODEL_FN_ARGS]
  if unknown:
    validation.fail(
      'model_fn',
      'a function whose arguments are among %s' % ', '.join(_VALID_MODEL_FN_ARGS),
      model_fn,
      'It also takes %s, which the Estimator never passes: bind them with '
      'functools.partial or a closure (a model_fn builder), or move them into params'
      % (', '.join(unknown)),
    )
  if params is not None and 'params' not in args:
    raise exceptions.ArgumentError(
      'params were given (%s) but model_fn %s takes no `params` argument (its arguments '
      'are %s). Add a `params` argument to model_fn, or drop params'
      % (validation.describe(params), _describe_fn(model_fn), ', '.join(args))
    )


def _validate_template_params(model_fn, params):
  """A model_fn with a ``check_params`` (the templates) has its params checked now.

  ``classifier_model_fn`` and ``regressor_model_fn`` check their params when the Estimator
  first calls them, while building a graph; their ``check_params`` runs the same check
  without one, so a typo or a bad value is refused here, before anything is built.
  """
  if _is_template(model_fn):
    model_fn.check_params(params if params is not None else {})


def _checkpoint_exists(path):
  import tensorflow as tf

  if tf.io.gfile.isdir(path):
    return bool(
      tf.train.latest_checkpoint(path)
      or tf.io.gfile.exists(os.path.join(path, 'saved_model.pb'))
      or tf.io.gfile.exists(os.path.join(path, 'saved_model.pbtxt'))
    )
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
    validation.fail(
      'warm_start_from',
      'a checkpoint path, a directory or a tf.estimator.WarmStartSettings',
      warm_start_from,
      error=exceptions.ArgumentTypeError,
    )
  if not _checkpoint_exists(os.fsdecode(path)):
    validation.fail(
      name,
      'an existing checkpoint prefix (such as runs/a/model.ckpt-100), a model_dir '
      'holding a checkpoint, or a SavedModel directory',
      os.fsdecode(path),
      'Nothing to warm-start from was found there',
    )
  return warm_start_from
