"""Input_fns built in a throwaway graph before training: refused early when they cannot work.

The calls here are probes (``groups.probing()``): a builder's input_fn draws no call seed for
them, so the training that follows reads the batches ``train()`` alone would read.
"""

from tfest_adapters import exceptions
from tfest_adapters._core import groups
from tfest_adapters._core import validation

# A dataset with this many batches repeats forever in practice (Dataset.range(2**63 - 1),
# the way numpy_input_fn(num_epochs=None) counts its batches, is not INFINITE to tf.data).
# 2**52, not 2**62: grouped by steps_per_run=K the same input reports 2**63 / K groups.
_ENDLESS_BATCHES = 2**52


def call_input_fn(estimator, input_fn, mode):
  """Calls ``input_fn`` as ``Estimator._call_input_fn`` does (mode/params/config by name)."""
  import tensorflow as tf
  from tensorflow.python.util import function_utils

  args = function_utils.fn_args(input_fn)
  kwargs = {}
  if 'mode' in args:
    kwargs['mode'] = mode
  if 'params' in args:
    kwargs['params'] = estimator.params
  if 'config' in args:
    kwargs['config'] = estimator.config
  if 'input_context' in args:
    kwargs['input_context'] = None
  with tf.device('/cpu:0'):
    return input_fn(**kwargs)


def inspect_input_fn(estimator, input_fn, mode, name):
  """Builds ``input_fn`` in a throwaway graph; returns (result, cardinality or None).

  The cardinality is ``tf.data.INFINITE_CARDINALITY`` for a dataset that repeats forever,
  ``tf.data.UNKNOWN_CARDINALITY`` when TF cannot tell, or the number of batches. Nothing runs.
  """
  import tensorflow as tf

  with tf.Graph().as_default(), groups.probing():
    try:
      result = call_input_fn(estimator, input_fn, mode)
    except exceptions.TfestError:
      raise
    except Exception as e:
      raise exceptions.ArgumentError(
        '%s failed when called to build its input: %s: %s' % (name, type(e).__name__, e)
      ) from e
    cardinality = None
    if isinstance(result, tf.data.Dataset):
      # Computed from the dataset's structure (no element is read): a session runs the op,
      # since tf.get_static_value cannot fold it.
      op = result.cardinality()
      value = tf.get_static_value(op)
      if value is None:
        try:
          with tf.compat.v1.Session() as session:
            value = session.run(op)
        except tf.errors.OpError:
          value = tf.data.UNKNOWN_CARDINALITY
      cardinality = int(value)
    return result, cardinality


def check_input_fn(estimator, input_fn, mode, name, bounded_by):
  """Refuses an input_fn that cannot work here, before training.

  Args:
    estimator: the Estimator that will call ``input_fn``.
    input_fn: the input_fn to check.
    mode: a ``tf.estimator.ModeKeys``.
    name: how error messages name ``input_fn``.
    bounded_by: the steps (or eval_steps) that bound the run, or None: then an input that
      repeats forever is refused.

  Returns:
    ``(what input_fn returned in a throwaway graph, its cardinality or None)``.

  Raises:
    ArgumentError: ``input_fn`` fails, repeats forever without a bound, gives no batch, or
      is not a dataset under a distribution strategy.
  """
  import tensorflow as tf

  validation.check_callable(name, input_fn)
  result, cardinality = inspect_input_fn(estimator, input_fn, mode, name)
  if estimator.config.train_distribute is not None and cardinality is None:
    validation.fail(
      name,
      'a function returning a tf.data.Dataset when the Estimator has a distribution strategy',
      result,
      'Return the dataset itself; its batch size is per replica',
    )
  endless = cardinality == tf.data.INFINITE_CARDINALITY or (
    cardinality is not None and cardinality >= _ENDLESS_BATCHES
  )
  if endless and bounded_by is None:
    raise exceptions.ArgumentError(
      '%s repeats forever (its dataset has %s), so %s would never end. '
      'Pass %s, or make the dataset finite (num_epochs=1)'
      % (
        name,
        'infinite cardinality'
        if cardinality < 0
        else '%d batches: endless in practice' % cardinality,
        'evaluation' if mode == tf.estimator.ModeKeys.EVAL else 'training',
        'eval_steps' if mode == tf.estimator.ModeKeys.EVAL else 'steps or max_steps',
      )
    )
  if cardinality == 0:
    raise exceptions.ArgumentError('%s gives an empty dataset (no batch at all)' % name)
  return result, cardinality


def eval_metric_names(estimator, eval_input_fn):
  """The keys ``estimator.evaluate`` returns, from the EVAL graph (built, not run)."""
  import tensorflow as tf

  with tf.Graph().as_default(), groups.probing():
    tf.compat.v1.train.get_or_create_global_step()
    result = call_input_fn(estimator, eval_input_fn, tf.estimator.ModeKeys.EVAL)
    if isinstance(result, tf.data.Dataset):
      result = tf.compat.v1.data.make_one_shot_iterator(result).get_next()
    features, labels = result if isinstance(result, tuple) else (result, None)
    spec = estimator.model_fn(features, labels, tf.estimator.ModeKeys.EVAL, estimator.config)
    return sorted({'loss', 'global_step'} | set(spec.eval_metric_ops or {}))
