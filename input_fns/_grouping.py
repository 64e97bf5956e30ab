"""Groups of batches, so that one ``session.run`` can train several steps.

An Estimator runs one ``session.run`` per element of the training Dataset, and each run has
a fixed cost (hooks, feeds, fetches: ~1.2-1.5 ms on a CPU) that dwarfs the maths of a small
model. :func:`group_batches` wraps any input_fn whose Dataset yields batches so that, in
TRAIN mode, each element is a *group* of up to ``steps_per_run`` consecutive batches; the
model_fn templates of ``tfest_adapters.models`` recognise a group and train on its batches one
after the other in an in-graph loop: one run, several optimizer steps, the same maths (as
TPUEstimator's ``iterations_per_loop`` and Keras' ``steps_per_execution``).

A group is the batches stacked on a new leading dimension, ``[k, batch_size, ...]``, with
``k <= steps_per_run`` (the last group of a finite input may be shorter), plus the number of
rows of each batch under the reserved feature key :data:`ROWS_KEY` (an int32 ``[k]``
vector). Batches of a statically known size are stacked as they are; otherwise (a finite
input whose last batch may be short) the group is padded to its largest batch with zeros and
the row counts say which rows are real. Features given as one tensor are carried in a dict
under :data:`FEATURES_KEY`.
"""

import tensorflow as tf
from tensorflow.python.util import function_utils  # The Estimator's own fn_args.

from tfest_adapters import _validation
from tfest_adapters import exceptions

# Reserved feature keys of a group (to move to tfest_adapters.keys as GroupKeys.ROWS and
# GroupKeys.FEATURES).
ROWS_KEY = '__tfest_group_rows__'
FEATURES_KEY = '__tfest_group_features__'

_ModeKeys = tf.estimator.ModeKeys
_INPUT_FN_ARGS = ('mode', 'params', 'config', 'input_context')


def is_group(features):
  """Whether ``features`` (what an input_fn gave a model_fn) is a group of batches."""
  return isinstance(features, dict) and ROWS_KEY in features


def _component_name(path, kind):
  return kind + ''.join('[%r]' % (p,) for p in path)


def _check_component(path, kind, spec):
  """A dense tensor ``[batch, ...]`` whose other dimensions are known; returns its batch dim."""
  name = _component_name(path, kind)
  if not isinstance(spec, tf.TensorSpec):
    _validation.fail(
        name, 'a dense Tensor to be grouped by steps_per_run', spec,
        'sparse and ragged batches cannot be stacked into groups: densify them in the '
        'input_fn (tf.sparse.to_dense, RaggedTensor.to_tensor with a fixed shape), or use '
        'steps_per_run=1', error=exceptions.ArgumentTypeError)
  shape = spec.shape
  if shape.rank is None or shape.rank == 0:
    _validation.fail(name, 'a batch [batch_size, ...] to be grouped by steps_per_run', spec,
                     'the input_fn must return batched tensors (Dataset.batch)')
  if not shape[1:].is_fully_defined():
    _validation.fail(
        name, 'a batch whose dimensions after the first are known, to be grouped by '
        'steps_per_run', spec,
        'batches of different shapes would be zero-padded to a common one, which changes '
        'the maths: give the feature a fixed shape (e.g. dataset.map with tf.ensure_shape, '
        'a FixedLenFeature, padded_batch with padded_shapes), or use steps_per_run=1')
  return shape[0]


def _batch_dims(features_spec, labels_spec):
  dims = []
  for kind, spec in (('features', features_spec), ('labels', labels_spec)):
    if spec is None:
      continue
    for path, component in _paths(spec):
      dims.append(_check_component(path, kind, component))
  return dims


def _paths(structure):
  """(path tuple, leaf) of every leaf of a nest of dicts, tuples and lists."""
  if isinstance(structure, dict):
    for key in structure:
      for path, leaf in _paths(structure[key]):
        yield (key,) + path, leaf
  elif isinstance(structure, (tuple, list)):
    for i, item in enumerate(structure):
      for path, leaf in _paths(item):
        yield (i,) + path, leaf
  else:
    yield (), structure


def group_dataset(dataset, steps_per_run):
  """Returns ``dataset`` (of batches) as a Dataset of groups of ``steps_per_run`` batches.

  Args:
    dataset: a ``tf.data.Dataset`` whose elements are ``features`` or ``(features, labels)``
      batches, as an Estimator's input_fn returns; features a dict of Tensors or a Tensor.
    steps_per_run: int > 0.

  Returns:
    A Dataset of ``(group_features, group_labels)`` (or ``group_features``): every Tensor
    ``[k, batch_size, ...]`` with ``k <= steps_per_run``; ``group_features`` is a dict
    holding the features (a bare features Tensor under :data:`FEATURES_KEY`) and the int32
    row counts ``[k]`` under :data:`ROWS_KEY`.

  Raises:
    ArgumentError, ArgumentTypeError: a component that cannot be grouped without changing
      the maths (sparse, ragged, unbatched, or of unknown shape after the batch dimension),
      or features that already hold a reserved key.
  """
  steps_per_run = _validation.check_positive_int('steps_per_run', steps_per_run)
  spec = dataset.element_spec
  with_labels = isinstance(spec, tuple) and len(spec) == 2
  features_spec, labels_spec = spec if with_labels else (spec, None)
  if isinstance(features_spec, dict):
    for key in (ROWS_KEY, FEATURES_KEY):
      if key in features_spec:
        raise exceptions.ArgumentError(
            'features already hold the key %r, which grouping reserves: the input is already '
            'grouped (apply group_batches or steps_per_run once), or rename that feature' %
            key)
  elif not isinstance(features_spec, tf.TensorSpec):
    _validation.fail('features', 'a dict of Tensors or a Tensor, to be grouped by '
                     'steps_per_run', features_spec, error=exceptions.ArgumentTypeError)
  dims = _batch_dims(features_spec, labels_spec)
  static = len(set(dims)) == 1 and dims[0] is not None

  def add_rows(*element):
    features = element[0]
    first = tf.nest.flatten(features)[0]
    rows = tf.shape(first, out_type=tf.int32)[0]
    if isinstance(features, dict):
      features = dict(features)
      features[ROWS_KEY] = rows
    else:
      features = {FEATURES_KEY: features, ROWS_KEY: rows}
    return (features,) + tuple(element[1:]) if with_labels else features

  dataset = dataset.map(add_rows)
  if static:  # Every batch full: stacked as they are, static shapes kept.
    dataset = dataset.batch(steps_per_run)
  else:  # The last batch may be short: padded to the group's largest, rows say which count.
    dataset = dataset.padded_batch(steps_per_run)
  return dataset.prefetch(1)


def _fn_args(input_fn):
  args = function_utils.fn_args(input_fn)
  return tuple(a for a in _INPUT_FN_ARGS if a in args)


def group_batches(input_fn, steps_per_run):
  """Returns an input_fn whose TRAIN Dataset yields groups of ``steps_per_run`` batches.

  With the model_fn templates of ``tfest_adapters.models`` (``classifier_model_fn``,
  ``regressor_model_fn``, ``make_model_fn``), each ``session.run`` of ``Estimator.train``
  then trains one step per batch of the group in an in-graph loop: the global step advances
  by up to ``steps_per_run`` per run, the weights after N steps are those of N runs of one
  step, and the fixed cost of a run is paid once per group. In EVAL and PREDICT (when the
  Estimator passes the mode) the batches pass through ungrouped, so the same input_fn serves
  ``train``, ``evaluate`` and ``predict``.

  Example:

  ```python
  import numpy as np
  import tensorflow as tf
  from tfest_adapters.input_fns import numpy_input_fn
  from tfest_adapters.input_fns._grouping import group_batches

  x = {'x': np.arange(10, dtype=np.float32)}
  y = np.arange(10) % 2
  input_fn = group_batches(numpy_input_fn(x, y, batch_size=4, shuffle=False), 2)
  for features, labels in input_fn(mode=tf.estimator.ModeKeys.TRAIN):
    print(features['x'].shape, features['__tfest_group_rows__'].numpy())
  # (2, 4) [4 4], then (1, 4) [2]: the last batch, 2 rows, zero-padded to 4.
  ```

  Args:
    input_fn: an input_fn returning a ``tf.data.Dataset`` of batches (``features`` or
      ``(features, labels)``; features a dict of dense Tensors or one Tensor), taking any of
      ``mode``, ``params``, ``config``, ``input_context``.
    steps_per_run: int > 0, batches per group; 1 returns ``input_fn`` itself.

  Returns:
    ``input_fn(mode=None, params=None, config=None, input_context=None)``, passing on to
    ``input_fn`` the arguments it takes. TRAIN (or no mode): a Dataset of groups (see
    :func:`group_dataset`). EVAL, PREDICT: what ``input_fn`` returns.

  Raises:
    ArgumentError, ArgumentTypeError: bad ``steps_per_run`` or ``input_fn`` now; when the
      returned input_fn is called in TRAIN, an ``input_fn`` result that is not a Dataset,
      or batches that cannot be grouped (see :func:`group_dataset`).
  """
  _validation.check_callable('input_fn', input_fn)
  steps_per_run = _validation.check_positive_int('steps_per_run', steps_per_run)
  if steps_per_run == 1:
    return input_fn
  accepted = _fn_args(input_fn)

  def grouped_input_fn(mode=None, params=None, config=None, input_context=None):
    given = dict(mode=mode, params=params, config=config, input_context=input_context)
    result = input_fn(**{a: given[a] for a in accepted})
    if mode in (_ModeKeys.EVAL, _ModeKeys.PREDICT):
      return result
    if not isinstance(result, tf.data.Dataset):
      _validation.fail(
          'what input_fn returned in TRAIN', 'a tf.data.Dataset of batches, to be grouped '
          'by steps_per_run=%d' % steps_per_run, result,
          'return the Dataset itself (not its tensors or an iterator), or use '
          'steps_per_run=1', error=exceptions.ArgumentTypeError)
    return group_dataset(result, steps_per_run)

  grouped_input_fn.steps_per_run = steps_per_run
  grouped_input_fn.input_fn = input_fn
  return grouped_input_fn
