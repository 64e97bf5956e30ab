"""Groups of batches, so that one ``session.run`` can train several steps.

:func:`group_batches` makes any input_fn's TRAIN Dataset yield groups of up to
``steps_per_run`` batches, in the format of ``tfest_adapters._core.groups``, which the
model_fn templates of ``tfest_adapters.models`` train in an in-graph loop;
:func:`make_group_dataset` gathers such groups straight from in-memory arrays.
"""

import numpy as np
import tensorflow as tf
from tensorflow.python.util import function_utils  # The Estimator's own fn_args.

from tfest_adapters import exceptions
from tfest_adapters._core import groups
from tfest_adapters._core import validation
from tfest_adapters.input_fns import _arrays
from tfest_adapters.input_fns import _batching

_INPUT_FN_ARGS = ('mode', 'params', 'config', 'input_context')


def _component_name(path, kind):
  return kind + ''.join('[%r]' % (p,) for p in path)


def _check_component(path, kind, spec):
  """A dense tensor ``[batch, ...]`` whose other dimensions are known; returns its batch dim."""
  name = _component_name(path, kind)
  if not isinstance(spec, tf.TensorSpec):
    validation.fail(
      name,
      'a dense Tensor to be grouped by steps_per_run',
      spec,
      'sparse and ragged batches cannot be stacked into groups: densify them in the '
      'input_fn (tf.sparse.to_dense, RaggedTensor.to_tensor with a fixed shape), or use '
      'steps_per_run=1',
      error=exceptions.ArgumentTypeError,
    )
  shape = spec.shape
  if shape.rank is None or shape.rank == 0:
    validation.fail(
      name,
      'a batch [batch_size, ...] to be grouped by steps_per_run',
      spec,
      'the input_fn must return batched tensors (Dataset.batch)',
    )
  if not shape[1:].is_fully_defined():
    validation.fail(
      name,
      'a batch whose dimensions after the first are known, to be grouped by steps_per_run',
      spec,
      'batches of different shapes would be zero-padded to a common one, which changes '
      'the maths: give the feature a fixed shape (e.g. dataset.map with tf.ensure_shape, '
      'a FixedLenFeature, padded_batch with padded_shapes), or use steps_per_run=1',
    )
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
    steps_per_run: int > 0; 1 returns ``dataset`` itself.

  Returns:
    A Dataset of ``(group_features, group_labels)`` (or ``group_features``): every Tensor
    ``[k, batch_size, ...]`` with ``k <= steps_per_run``; ``group_features`` is a dict
    holding the features (a bare features Tensor under ``groups.FEATURES_KEY``) and the
    int32 row counts ``[k]`` under ``groups.ROWS_KEY``. The batch dimension is static
    exactly when every batch is full (then the model uses each batch as it is, static shape
    included); otherwise a batch's rows past its row count are zero padding.

  Raises:
    ArgumentError, ArgumentTypeError: a component that cannot be grouped without changing
      the maths (sparse, ragged, unbatched, or of unknown shape after the batch dimension),
      or features that already hold a reserved key.
  """
  steps_per_run = validation.check_positive_int('steps_per_run', steps_per_run)
  if steps_per_run == 1:
    return dataset
  spec = dataset.element_spec
  with_labels = isinstance(spec, tuple) and len(spec) == 2
  features_spec, labels_spec = spec if with_labels else (spec, None)
  if isinstance(features_spec, dict):
    for key in (groups.ROWS_KEY, groups.FEATURES_KEY):
      if key in features_spec:
        raise exceptions.ArgumentError(
          'features already hold the key %r, which grouping reserves: the input is already '
          'grouped (apply group_batches or steps_per_run once), or rename that feature' % key
        )
  elif not isinstance(features_spec, tf.TensorSpec):
    validation.fail(
      'features',
      'a dict of Tensors or a Tensor, to be grouped by steps_per_run',
      features_spec,
      error=exceptions.ArgumentTypeError,
    )
  dims = _batch_dims(features_spec, labels_spec)
  static = len(set(dims)) == 1 and dims[0] is not None

  def add_rows(*element):
    first = tf.nest.flatten(element[0])[0]
    return groups.with_rows(
      element if with_labels else element[0], tf.shape(first, out_type=tf.int32)[0]
    )

  dataset = dataset.map(add_rows)
  if static:  # Every batch full: stacked as they are, static shapes kept.
    dataset = dataset.batch(steps_per_run)
  else:  # The last batch may be short: padded to the group's largest, rows say which count.
    dataset = dataset.padded_batch(steps_per_run)
  return dataset.prefetch(1)


def _carried_packs(components, rebuild, num_columns):
  """The packed components whose columns are all top-level features of a dict, and keys.

  ``rebuild`` is probed with placeholders to see where each column lands: only plain
  ``dict(zip(keys, columns))`` placement is carried as a matrix.
  """
  placeholders = [object() for _ in range(num_columns)]
  element = rebuild(placeholders)
  features = element[0] if isinstance(element, tuple) else element
  if not isinstance(features, dict):
    return {}
  column_of = {id(p): i for i, p in enumerate(placeholders)}
  key_of = {column_of[id(v)]: k for k, v in features.items() if id(v) in column_of}
  carried = {}
  for component in components:
    keys = [key_of.get(i) for i in component.column_ids]
    if (
      component.row_major and all(isinstance(k, str) for k in keys) and len(set(keys)) == len(keys)
    ):
      carried[id(component)] = keys
  return carried


def _fn_args(input_fn):
  args = function_utils.fn_args(input_fn)
  return tuple(a for a in _INPUT_FN_ARGS if a in args)


def group_batches(input_fn, steps_per_run=None):
  """Returns an input_fn whose TRAIN Dataset yields groups of ``steps_per_run`` batches.

  With the model_fn templates of ``tfest_adapters.models`` (``classifier_model_fn``,
  ``regressor_model_fn``, ``make_model_fn``), each ``session.run`` of ``Estimator.train``
  then trains one step per batch of the group in an in-graph loop: the global step advances
  by up to ``steps_per_run`` per run, and the weights after N steps are those of N runs of
  one step. In EVAL and PREDICT (when the Estimator passes the mode) the batches pass
  through ungrouped, so the same input_fn serves ``train``, ``evaluate`` and ``predict``. By
  default the number of batches per group is the Estimator's ``params['steps_per_run']``,
  the key the templates take.

  Example:

  ```python
  import numpy as np
  import tensorflow as tf
  from tfest_adapters.input_fns import numpy_input_fn
  from tfest_adapters.input_fns import group_batches

  x = {'x': np.arange(10, dtype=np.float32)}
  y = np.arange(10) % 2
  input_fn = group_batches(numpy_input_fn(x, y, batch_size=4, shuffle=False), 3)
  for features, labels in input_fn(mode=tf.estimator.ModeKeys.TRAIN):
    print(features['x'].shape, features['__tfest_group_rows__'].numpy())
  # (3, 4) [4 4 2]: three batches, the last one 2 rows long and zero-padded to 4.
  # With Estimator(classifier_model_fn, params={..., 'steps_per_run': 3}), group_batches(
  # input_fn) groups by 3 as well.
  ```

  Args:
    input_fn: an input_fn returning a ``tf.data.Dataset`` of batches (``features`` or
      ``(features, labels)``; features a dict of dense Tensors or one Tensor), taking any of
      ``mode``, ``params``, ``config``, ``input_context``.
    steps_per_run: int > 0, batches per group (1 returns ``input_fn`` itself); or None to
      take ``params['steps_per_run']`` from the params the Estimator passes (1 without it).

  Returns:
    ``input_fn(mode=None, params=None, config=None, input_context=None)``, passing on to
    ``input_fn`` the arguments it takes. TRAIN (or no mode): a Dataset of groups (see
    :func:`group_dataset`); a Dataset that already yields groups (the builders of
    ``tfest_adapters.input_fns`` group by themselves, from ``params['steps_per_run']`` or
    their own ``steps_per_run``) is returned as it is. EVAL, PREDICT: what ``input_fn``
    returns.

  Raises:
    ArgumentError, ArgumentTypeError: bad ``steps_per_run`` or ``input_fn`` now; when the
      returned input_fn is called in TRAIN, a bad ``params['steps_per_run']``, an
      ``input_fn`` result that is not a Dataset, or batches that cannot be grouped (see
      :func:`group_dataset`).
  """
  validation.check_callable('input_fn', input_fn)
  if steps_per_run is not None:
    steps_per_run = validation.check_positive_int('steps_per_run', steps_per_run)
    if steps_per_run == 1:
      return input_fn
  accepted = _fn_args(input_fn)

  def grouped_input_fn(mode=None, params=None, config=None, input_context=None):
    given = dict(mode=mode, params=params, config=config, input_context=input_context)
    steps = groups.steps_per_run_of(mode, params, steps_per_run)
    result = input_fn(**{a: given[a] for a in accepted})
    if steps == 1:
      return result
    if not isinstance(result, tf.data.Dataset):
      validation.fail(
        'what input_fn returned in TRAIN',
        'a tf.data.Dataset of batches, to be grouped by steps_per_run=%d' % steps,
        result,
        'return the Dataset itself (not its tensors or an iterator), or use steps_per_run=1',
        error=exceptions.ArgumentTypeError,
      )
    if groups.is_group_spec(result.element_spec):  # A builder that groups by itself.
      return result
    return group_dataset(result, steps)

  grouped_input_fn.steps_per_run = steps_per_run
  grouped_input_fn.input_fn = input_fn
  return grouped_input_fn


def _group_prefetch(prefetch, steps_per_run):
  if prefetch == tf.data.AUTOTUNE:
    return prefetch
  return max(2, -(-prefetch // steps_per_run))


def make_group_dataset(
  arrays,
  dtypes,
  rebuild,
  batch_size,
  num_epochs,
  shuffle,
  seed=None,
  shard=(1, 0),
  drop_remainder=False,
  prefetch=tf.data.AUTOTUNE,
  steps_per_run=1,
):
  """``_arrays.make_dataset``, yielding groups of ``steps_per_run`` batches, gathered at once.

  The batches, their rows and their order are those of ``_arrays.make_dataset`` with the
  same arguments (the same ``_batching.BatchPlan``); the Dataset yields them as groups in
  the format of :func:`group_dataset`, each gathered in one ``tf.numpy_function`` call. The
  columns of a row-major matrix that are top-level features go to the model as that matrix,
  ``[k, batch_size, n]``, under ``groups.packed_key(keys)``.

  Args:
    arrays, dtypes, rebuild, batch_size, num_epochs, shuffle, seed, shard, drop_remainder,
      prefetch: as ``tfest_adapters.input_fns._arrays.make_dataset`` (``prefetch`` counts
      batches; it is rounded up to whole groups, at least two).
    steps_per_run: int > 0, batches per group; 1 is ``_arrays.make_dataset`` itself.

  Returns:
    A ``tf.data.Dataset`` of groups, as :func:`group_dataset` returns for the Dataset of
    ``_arrays.make_dataset``.
  """
  steps_per_run = validation.check_positive_int('steps_per_run', steps_per_run)
  if steps_per_run == 1:
    return _arrays.make_dataset(
      arrays,
      dtypes,
      rebuild,
      batch_size,
      num_epochs,
      shuffle,
      seed=seed,
      shard=shard,
      drop_remainder=drop_remainder,
      prefetch=prefetch,
    )
  num_shards, shard_index = shard
  store = _arrays.as_store(arrays, dtypes)
  plan = _batching.BatchPlan(
    store.num_rows,
    batch_size,
    num_epochs,
    shuffle,
    seed=seed,
    num_shards=num_shards,
    shard_index=shard_index,
    drop_remainder=drop_remainder,
  )
  # As make_dataset's: one matrix per dtype out of Python (from a row-major copy when
  # shuffling small columns), unpacked into the caller's columns once per group.
  components = store.components(row_major=shuffle)
  # A row-major matrix of features goes to the model as it is, [k, batch, n] under
  # groups.packed_key(keys): the templates take batch i of it as their input layer.
  carried = _carried_packs(components, rebuild, len(store.arrays))
  full = plan.full_batches_only
  batch_dim = batch_size if full else None
  specs = [c.spec(None) for c in components]
  num_batches = plan.num_batches
  if num_batches is None:
    num_groups = np.iinfo(np.int64).max
  else:
    num_groups = -(-num_batches // steps_per_run)

  def gather(group_index):
    first = int(group_index) * steps_per_run
    last = first + steps_per_run if num_batches is None else min(first + steps_per_run, num_batches)
    indices = plan.indices(first, last - first)
    # Only the plan's last batch can be short.
    rows = np.full(last - first, batch_size, np.int32)
    rows[-1] = len(indices) - batch_size * (last - first - 1)
    # A short last batch is padded to the group's largest, as padded_batch pads it: the
    # missing rows read row 0 and are zeroed.
    padding = int(rows.max()) - int(rows[-1])
    if padding:
      indices = np.concatenate([indices, np.zeros(padding, np.int64)])
    gathered = [c.gather(indices) for c in components]
    if padding:
      for values in gathered:
        values[len(indices) - padding :] = b'' if values.dtype.kind in 'OS' else 0
    return gathered + [rows]

  @tf.autograph.experimental.do_not_convert
  def load_group(group_index):
    tensors = tf.numpy_function(
      gather,
      [group_index],
      [s.dtype for s in specs] + [tf.int32],
      stateful=False,
      name='gather_group',
    )
    rows = tensors[-1]
    rows.set_shape([None])
    # [k * batch_size, ...] -> [k, batch_size, ...]. A static batch dimension tells the
    # model_fn every batch is full (see group_dataset); padded groups get an unknown one, as
    # padded_batch gives them.
    group_shape = [-1, batch_size] if full else tf.stack([tf.size(rows), -1])
    scalar_shape = tf.constant(group_shape) if full else group_shape

    def by_group(tensor):
      if tensor.shape.rank == 1:
        grouped = tf.reshape(tensor, scalar_shape)
      else:
        grouped = tf.reshape(tensor, tf.concat([group_shape, tensor.shape[1:].as_list()], 0))
      grouped.set_shape([None, batch_dim] + tensor.shape[1:].as_list())
      return grouped

    columns = [None] * len(store.arrays)
    packs = {}
    for component, spec, tensor in zip(components, specs, tensors[:-1]):
      tensor.set_shape(spec.shape)  # [k * batch_size, ...]: unpacked as one batch.
      if id(component) in carried:
        packs[groups.packed_key(carried[id(component)])] = by_group(tensor)
      else:
        component.unpack(tensor, columns)
    columns = [None if c is None else by_group(c) for c in columns]
    return groups.with_rows(rebuild(columns), rows, packs)

  return (
    tf.data.Dataset.range(num_groups)
    .map(load_group)
    .prefetch(_group_prefetch(prefetch, steps_per_run))
  )
