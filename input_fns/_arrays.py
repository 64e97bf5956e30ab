"""A tf.data pipeline over in-memory arrays that never puts them in the graph.

Batch ``i``'s rows (:class:`._batching.BatchPlan`) are gathered from the arrays in a
``tf.numpy_function``; columns of one dtype travel packed in one ``[batch, width]`` matrix, and
shuffled reading gathers from a row-major copy of small columns (:class:`ColumnStore`).
"""

import numpy as np
import tensorflow as tf

from tfest_adapters.input_fns import _batching

# NumPy kinds that can share a packed matrix: bool, signed, unsigned, float, complex.
_PACKABLE_KINDS = 'biufc'
# Columns of one dtype totalling at most this are copied into a row-major matrix for
# shuffled reading; above it, they are read in place.
ROW_MAJOR_MAX_BYTES = 256 << 20


def _take(array, indices):
  """``array[indices]`` for int64 ``indices`` (or a slice): the rows, in that order."""
  if isinstance(indices, slice):
    return array[indices]
  return np.take(array, indices, axis=0)


class _Single:
  """One column, gathered and passed on as it is."""

  row_major = False  # Read in place, always.

  def __init__(self, column_id, array, dtype):
    self.column_ids = (column_id,)
    self._array = array
    self._dtype = dtype

  def spec(self, batch_dim):
    return tf.TensorSpec([batch_dim] + list(self._array.shape[1:]), self._dtype)

  def gather(self, indices):
    batch = _take(self._array, indices)
    # tf.numpy_function turns str into bytes as ASCII; TensorFlow's convention is UTF-8.
    if batch.dtype.kind == 'U':
      return np.char.encode(batch, 'utf-8')
    if batch.dtype.kind == 'O' and self._dtype == tf.string:
      encoded = [v.encode('utf-8') if isinstance(v, str) else v for v in batch.ravel()]
      return np.array(encoded, dtype=object).reshape(batch.shape)
    return batch

  def unpack(self, tensor, columns):
    columns[self.column_ids[0]] = tensor


class _Packed:
  """Columns of one dtype, gathered into one ``[batch, width]`` matrix and split back.

  With ``row_major``, the columns are first copied into one ``[rows, width]`` matrix (when
  it is at most ``ROW_MAJOR_MAX_BYTES``), from which a batch of random rows is one
  contiguous gather.
  """

  def __init__(self, column_ids, arrays, dtype, row_major=False):
    self.column_ids = tuple(column_ids)
    self._arrays = arrays
    self._dtype = dtype
    self._np_dtype = arrays[0].dtype
    self._shapes = [tuple(a.shape[1:]) for a in arrays]
    self._widths = [int(np.prod(s, dtype=np.int64)) for s in self._shapes]
    self._width = sum(self._widths)
    self._all_scalar = all(not s for s in self._shapes)
    self._rows = None
    num_rows = len(arrays[0])
    if row_major and num_rows * self._width * self._np_dtype.itemsize <= ROW_MAJOR_MAX_BYTES:
      self._rows = self._gather_columns(slice(None), num_rows)

  @property
  def row_major(self):
    """Whether batches are gathered from a row-major copy of the columns."""
    return self._rows is not None

  def spec(self, batch_dim):
    return tf.TensorSpec([batch_dim, self._width], self._dtype)

  def gather(self, indices):
    if self._rows is not None:
      return _take(self._rows, indices)
    return self._gather_columns(indices, len(indices))

  def _gather_columns(self, indices, num_rows):
    out = np.empty((num_rows, self._width), self._np_dtype)
    offset = 0
    for array, width in zip(self._arrays, self._widths):
      if array.ndim == 1:
        out[:, offset] = _take(array, indices)
      else:
        out[:, offset : offset + width] = _take(array, indices).reshape(num_rows, width)
      offset += width
    return out

  def unpack(self, tensor, columns):
    if self._all_scalar:
      parts = tf.unstack(tensor, num=self._width, axis=1)
    else:
      parts = tf.split(tensor, self._widths, axis=1)
    for column_id, shape, part in zip(self.column_ids, self._shapes, parts):
      if not self._all_scalar and shape != (1,):
        part = tf.reshape(part, [-1] + list(shape))
      columns[column_id] = part


def _components(arrays, dtypes, row_major=False):
  """Groups the columns into packed matrices (one per packable dtype) and single columns."""
  groups = {}
  order = []
  for column_id, (array, dtype) in enumerate(zip(arrays, dtypes)):
    packable = (
      array.dtype.kind in _PACKABLE_KINDS
      and array.dtype == dtype.as_numpy_dtype
      and array.ndim >= 1
      and all(d > 0 for d in array.shape[1:])
    )
    key = array.dtype.str if packable else ('single', column_id)
    if key not in groups:
      groups[key] = []
      order.append(key)
    groups[key].append(column_id)
  components = []
  for key in order:
    ids = groups[key]
    if len(ids) == 1:
      components.append(_Single(ids[0], arrays[ids[0]], dtypes[ids[0]]))
    else:
      components.append(_Packed(ids, [arrays[i] for i in ids], dtypes[ids[0]], row_major))
  return components


class ColumnStore:
  """The columns of a builder, and the components that read them, made once per builder.

  The builders make one store and pass it to :func:`make_dataset` (or
  ``_grouping.make_group_dataset``) at every input_fn call, so that the row-major copies
  of shuffled reading are made once, on first use: the columns of one dtype totalling at
  most :data:`ROW_MAJOR_MAX_BYTES`. Reading in order copies nothing.

  Args:
    arrays: list of numpy arrays with the same first dimension; referenced, not copied
      (but for the row-major copies above).
    dtypes: list of ``tf.DType``, one per array.
  """

  def __init__(self, arrays, dtypes):
    self.arrays = list(arrays)
    self.dtypes = list(dtypes)
    self._components = {}

  @property
  def num_rows(self):
    return len(self.arrays[0])

  def components(self, row_major=False):
    """The components reading the columns; ``row_major`` for shuffled reading."""
    key = bool(row_major)
    if key not in self._components:
      self._components[key] = _components(self.arrays, self.dtypes, row_major)
    return self._components[key]


def as_store(arrays, dtypes):
  """``arrays`` if it is a :class:`ColumnStore`, else a store of ``arrays`` and ``dtypes``."""
  return arrays if isinstance(arrays, ColumnStore) else ColumnStore(arrays, dtypes)


def make_dataset(
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
):
  """Returns a Dataset of batches of rows of ``arrays``, structured by ``rebuild``.

  The Dataset is ``Dataset.range(num_batches).map(load_batch).prefetch(prefetch)``, where
  ``load_batch`` gathers batch ``i`` (:class:`._batching.BatchPlan`) in a
  ``tf.numpy_function``, unpacks the packed columns and rebuilds the caller's structure.

  Args:
    arrays: list of numpy arrays with the same first dimension (referenced; copied only
      for shuffled reading of small columns, see :class:`ColumnStore`), or a
      :class:`ColumnStore` of them (whose copies are then made once).
    dtypes: list of ``tf.DType``, one per array: the dtype of its tensors (ignored with a
      store, which has its own).
    rebuild: function(list of column tensors, in the order of ``arrays``) -> the element
      (e.g. ``(features_dict, labels)``); traced once, by ``Dataset.map``.
    batch_size, num_epochs, shuffle, seed, drop_remainder: see
      :class:`._batching.BatchPlan`.
    shard: ``(num_shards, index)``.
    prefetch: batches to prepare ahead of the model.

  Returns:
    A ``tf.data.Dataset``. Its batch dimension is static when every batch is full
    (``num_epochs`` is None or ``drop_remainder``).
  """
  num_shards, shard_index = shard
  store = as_store(arrays, dtypes)
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
  components = store.components(row_major=shuffle)
  batch_dim = batch_size if plan.full_batches_only else None
  specs = [c.spec(batch_dim) for c in components]
  num_batches = plan.num_batches
  if num_batches is None:
    num_batches = np.iinfo(np.int64).max

  def gather(batch_index):
    indices = plan.indices(int(batch_index))
    return [c.gather(indices) for c in components]

  # Nothing for AutoGraph to convert: skipping it makes building the Dataset faster.
  @tf.autograph.experimental.do_not_convert
  def load_batch(batch_index):
    tensors = tf.numpy_function(
      gather, [batch_index], [s.dtype for s in specs], stateful=False, name='gather_batch'
    )
    columns = [None] * len(store.arrays)
    for component, spec, tensor in zip(components, specs, tensors):
      tensor.set_shape(spec.shape)
      component.unpack(tensor, columns)
    return rebuild(columns)

  return tf.data.Dataset.range(num_batches).map(load_batch).prefetch(prefetch)
