"""``steps_per_run='auto'``: K chosen from a training step measured in a throwaway graph.

The input_fn and the model_fn are built once more, in a graph of their own, with groups of
:data:`PROBE_GROUP` batches (the input_fn's builder draws no new seed: ``groups.probing()``);
a few runs of its train_op give the time of a step. K is then the largest number of steps
whose run stays within :data:`MAX_RUN_SECONDS` (hooks, Ctrl-C and the progress bar act
between runs), at most :data:`MAX_STEPS_PER_RUN`, and a divisor of every step cadence
(checkpoints, summaries, evaluations), so that each falls on the last step of a run.
docs/throughput.md says why: bench/scaling.py found more steps per run faster at every size
it measured, and why the measurement is not part of a training call.
"""

import math
import statistics
import time

import tensorflow as tf

from tfest_adapters._core import groups
from tfest_adapters._core import model_fn_call

# A run of K steps should take at most this long: hooks (the stop, the NaN guard, signals,
# the progress bar) act between runs.
MAX_RUN_SECONDS = 1.0
MAX_STEPS_PER_RUN = 64
# Batches per run while measuring: enough to share the measurement's own run cost.
PROBE_GROUP = 4
_WARMUP_RUNS = 2
_TIMED_RUNS = 5
_TIMED_SECONDS = 1.0
_ModeKeys = tf.estimator.ModeKeys


def step_cadences(config, extra=()):
  """The step intervals of ``config`` (checkpoints, summaries) and ``extra``, sorted."""
  values = [config.save_checkpoints_steps, config.save_summary_steps, *extra]
  return tuple(sorted({int(v) for v in values if v}))


def choose_steps_per_run(step_seconds, cadences=(), cap=MAX_STEPS_PER_RUN):
  """The K of ``steps_per_run='auto'``.

  Args:
    step_seconds: seconds of one training step, or None (not measured: K is 1).
    cadences: step intervals K must divide (a checkpoint every 100 steps: K divides 100).
    cap: the largest K.

  Returns:
    The largest K up to ``cap`` dividing every cadence whose run takes at most
    :data:`MAX_RUN_SECONDS` (1 when a step alone takes longer).
  """
  if step_seconds is None:
    return 1
  fits = int(math.floor(MAX_RUN_SECONDS / max(step_seconds, 1e-9) + 1e-6))
  limit = min(cap, max(1, fits))
  common = 0
  for cadence in cadences:
    common = math.gcd(common, int(cadence))
  return max(k for k in range(1, limit + 1) if common == 0 or common % k == 0)


def _call_input_fn(input_fn, params, config):
  """Calls ``input_fn`` in TRAIN as ``Estimator._call_input_fn`` does."""
  from tensorflow.python.util import function_utils

  args = function_utils.fn_args(input_fn)
  kwargs = {}
  for name, value in (
    ('mode', _ModeKeys.TRAIN),
    ('params', params),
    ('config', config),
    ('input_context', None),
  ):
    if name in args:
      kwargs[name] = value
  with tf.device('/cpu:0'):
    return input_fn(**kwargs)


def _features_and_labels(result):
  """(features, labels, initializers) of what an input_fn returned."""
  initializers = []
  if isinstance(result, tf.data.Dataset):
    iterator = tf.compat.v1.data.make_initializable_iterator(result)
    initializers.append(iterator.initializer)
    result = iterator.get_next()
  if isinstance(result, (tuple, list)):
    return result[0], (result[1] if len(result) > 1 else None), initializers
  return result, None, initializers


def groups_batches(input_fn, params, config):
  """Whether ``input_fn`` yields groups of batches when ``params`` ask for them (built only)."""
  with tf.Graph().as_default(), groups.probing():
    tf.compat.v1.train.get_or_create_global_step()
    result = _call_input_fn(input_fn, dict(params, **{groups.PARAMS_KEY: 2}), config)
    features, _, _ = _features_and_labels(result)
    return groups.is_group(features)


def measure_step_seconds(model_fn, input_fn, params, config):
  """Seconds per training step of ``model_fn`` on ``input_fn``'s batches, or None.

  Built in a throwaway graph with groups of :data:`PROBE_GROUP` batches, initialized from
  scratch (no checkpoint is read), timed over a few runs after warm-up ones. None when the
  input_fn yields no groups (it does not read ``params['steps_per_run']``) or runs out of
  data before one run is timed.
  """
  from tensorflow.python.util import function_utils

  params = dict(params, **{groups.PARAMS_KEY: PROBE_GROUP})
  with tf.Graph().as_default(), groups.probing():
    if config.tf_random_seed is not None:
      tf.compat.v1.set_random_seed(config.tf_random_seed)
    tf.compat.v1.train.get_or_create_global_step()
    features, labels, initializers = _features_and_labels(_call_input_fn(input_fn, params, config))
    if not groups.is_group(features):
      return None
    spec = model_fn_call.call_model_fn(
      model_fn,
      function_utils.fn_args(model_fn),
      features,
      labels,
      _ModeKeys.TRAIN,
      params,
      config,
    )
    initializers += [
      tf.compat.v1.global_variables_initializer(),
      tf.compat.v1.local_variables_initializer(),
      tf.compat.v1.tables_initializer(),
    ]
    times = []
    with tf.compat.v1.Session(config=config.session_config) as session:
      session.run(initializers)
      try:
        for _ in range(_WARMUP_RUNS):
          session.run(spec.train_op)
        deadline = time.perf_counter() + _TIMED_SECONDS
        while len(times) < _TIMED_RUNS and (not times or time.perf_counter() < deadline):
          start = time.perf_counter()
          session.run(spec.train_op)
          times.append(time.perf_counter() - start)
      except tf.errors.OutOfRangeError:
        pass
  if not times:
    return None
  return statistics.median(times) / PROBE_GROUP
