"""The group-of-batches format that input_fns produce and the templates consume.

A group is up to ``steps_per_run`` batches stacked on a new leading dimension,
``[k, batch_size, ...]`` (a short last batch zero-padded), with the rows of each batch under
:data:`ROWS_KEY` (int32 ``[k]``); see :func:`with_rows` for where features go.
"""

import contextlib
import json
import threading

import tensorflow as tf

from tfest_adapters._core import validation
from tfest_adapters.keys import GroupKeys

ROWS_KEY = GroupKeys.ROWS
FEATURES_KEY = GroupKeys.FEATURES
PACKED_PREFIX = GroupKeys.PACKED_PREFIX
# The key of the Estimator's params (and of the templates' params) giving the batches per group.
PARAMS_KEY = 'steps_per_run'
# Its value asking make_estimator's Estimator to choose K from a measured step; one step per run
# where nothing chooses (a plain tf.estimator.Estimator, EVAL, PREDICT).
AUTO = 'auto'

# A model_fn attribute: True when it trains a group of batches in an in-graph loop (the
# templates), which makes 'auto' make_estimator's default for it.
TRAINS_GROUPS_ATTR = 'trains_groups'

_probing = threading.local()

_ModeKeys = tf.estimator.ModeKeys


def is_group(features):
  """Whether ``features`` (what an input_fn gave a model_fn) is a group of batches."""
  return isinstance(features, dict) and ROWS_KEY in features


def is_group_spec(element_spec):
  """Whether a Dataset's ``element_spec`` describes groups of batches."""
  features = element_spec[0] if isinstance(element_spec, tuple) else element_spec
  return is_group(features)


def packed_key(keys):
  """The reserved feature key of a ``[k, batch, n]`` matrix holding features ``keys``."""
  return PACKED_PREFIX + json.dumps(list(keys))


def packed_keys(key):
  """The feature keys a packed matrix's key names, in column order; None for other keys."""
  if not (isinstance(key, str) and key.startswith(PACKED_PREFIX)):
    return None
  return json.loads(key[len(PACKED_PREFIX) :])


def feature_keys(features):
  """The keys of a features dict as the model sees them: a group's packed matrices expanded."""
  keys = []
  for key in features:
    packed = packed_keys(key)
    if packed is not None:
      keys.extend(packed)
    elif key not in (ROWS_KEY, FEATURES_KEY):
      keys.append(key)
  return keys


def with_rows(element, rows, packs=None):
  """A batch or group element with its row counts (and packed matrices) among the features.

  Args:
    element: ``features`` or ``(features, labels, ...)``; features a dict, or one tensor,
      which goes under :data:`FEATURES_KEY`. Dict entries that are None are left out.
    rows: the row counts, put under :data:`ROWS_KEY`.
    packs: None, or a dict of ``packed_key(keys)`` -> ``[k, batch, n]`` matrix, added to a
      dict of features (the keys' own entries are then None).

  Returns:
    ``element`` with its features replaced by the group's features dict.
  """
  with_labels = isinstance(element, tuple)
  features = element[0] if with_labels else element
  if isinstance(features, dict):
    features = {k: v for k, v in features.items() if v is not None}
    features.update(packs or {})
    features[ROWS_KEY] = rows
  else:
    features = {FEATURES_KEY: features, ROWS_KEY: rows}
  return (features,) + tuple(element[1:]) if with_labels else features


def validate_steps_per_run(steps_per_run):
  """Checks a builder's ``steps_per_run``: None (the Estimator's params say) or an int > 0."""
  if steps_per_run is None:
    return None
  return validation.check_positive_int(
    'steps_per_run', steps_per_run, 'Give the number of batches per session.run, e.g. 8'
  )


@contextlib.contextmanager
def probing():
  """Marks the input_fn calls of this thread as probes: builders then draw no new call seed.

  An input_fn called in a throwaway graph (to measure a step for ``steps_per_run='auto'``, or
  to check it before ``fit`` or ``train_and_evaluate``) must not move its builder to the seed
  of the next call, or the training call after it would read other batches than it reads
  without the probe.
  """
  previous = getattr(_probing, 'active', False)
  _probing.active = True
  try:
    yield
  finally:
    _probing.active = previous


def is_probing():
  """Whether this thread's input_fn calls are probes (see :func:`probing`)."""
  return getattr(_probing, 'active', False)


def check_params_steps_per_run(value):
  """``params['steps_per_run']``: a positive int, or ``'auto'`` (one step per run here).

  ``'auto'`` reaching a template or an input_fn means nothing chose K (a plain
  ``tf.estimator.Estimator``): one step per run, as without the key.
  """
  if isinstance(value, str) and value == AUTO:
    return 1
  return validation.check_positive_int(
    'params["%s"]' % PARAMS_KEY,
    value,
    "Give the number of training steps each session.run performs, e.g. 8, or 'auto'",
  )


def params_steps_per_run(params):
  """``params['steps_per_run']`` checked, 1 when params do not give it."""
  if isinstance(params, dict) and params.get(PARAMS_KEY) is not None:
    return check_params_steps_per_run(params[PARAMS_KEY])
  return 1


def steps_per_run_of(mode, params, steps_per_run=None):
  """The number of batches per group an input_fn should yield when called in ``mode``.

  1 in EVAL and PREDICT; otherwise ``steps_per_run`` when given (a builder's own argument),
  else ``params['steps_per_run']`` (the Estimator's params), else 1.

  Raises:
    ArgumentError: ``params['steps_per_run']`` is not a positive int.
  """
  if mode in (_ModeKeys.EVAL, _ModeKeys.PREDICT):
    return 1
  if steps_per_run is not None:
    return steps_per_run
  return params_steps_per_run(params)
