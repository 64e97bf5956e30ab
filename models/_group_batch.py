"""A group of batches as the training loop feeds it to the network, one batch per step.

:class:`Group` gives batch ``i`` of a group. A network built inside the loop may ask two things
here: :func:`in_group_step` (is a group's step being built?) and :func:`matrix_of_columns` (are
these features the columns of one packed matrix?), as the templates' DNN does.
"""

import collections
import contextlib

import tensorflow as tf

from tfest_adapters import exceptions
from tfest_adapters._core import groups

# Attribute of a loop body's graph while a step is built in it (see building_step).
_IN_STEP_ATTR = '_tfest_building_group_step'
# Attribute of a graph: column tensor name -> (matrix, column index, number of columns).
_COLUMNS_ATTR = '_tfest_packed_columns'


def _fail(text):
  raise exceptions.ArgumentError('steps_per_run: ' + text)


@contextlib.contextmanager
def building_step():
  """Marks the current graph (a loop body) as building a group's step in the block."""
  graph = tf.compat.v1.get_default_graph()
  setattr(graph, _IN_STEP_ATTR, True)
  try:
    yield
  finally:
    setattr(graph, _IN_STEP_ATTR, False)


def in_group_step():
  """Whether a step of a group's training loop is being built in the current graph.

  The network's own summaries are not written then: a network can skip building them, as the
  templates' DNN does.
  """
  return getattr(tf.compat.v1.get_default_graph(), _IN_STEP_ATTR, False)


def unstack_columns(matrix, num):
  """The ``num`` columns ``[batch]`` of a ``[batch, num]`` matrix, recorded as its columns.

  This is how :meth:`Group.batch` splits the features the input builders packed into one
  matrix; :func:`matrix_of_columns` gives the matrix back.
  """
  columns = tf.unstack(matrix, num=num, axis=1)
  graph = matrix.graph
  if not hasattr(graph, _COLUMNS_ATTR):
    setattr(graph, _COLUMNS_ATTR, {})
  recorded = getattr(graph, _COLUMNS_ATTR)
  for index, column in enumerate(columns):
    recorded[column.name] = (matrix, index, num)
  return columns


def matrix_of_columns(tensors):
  """``(matrix, column indices, n)`` if ``tensors`` are columns of one matrix, else None.

  Only columns made by :func:`unstack_columns` count: ``matrix`` is the ``[batch, n]`` matrix
  they were split from, and ``tensors[j]`` is its column ``indices[j]``. A network can then
  take the matrix (or gather its columns) instead of stacking the columns again.
  """
  if not tensors:
    return None
  graph = tensors[0].graph
  recorded = getattr(graph, _COLUMNS_ATTR, {})
  found = [recorded.get(t.name) if t.graph is graph else None for t in tensors]
  if any(f is None for f in found):
    return None
  matrix, _, num = found[0]
  if any(f[0] is not matrix for f in found):
    return None
  return matrix, [index for _, index, _ in found], num


class _PackedColumn:
  """Stands for a feature sent as column ``column`` of a packed ``[k, batch, n]`` matrix."""

  def __init__(self, matrix, column):
    self.matrix = matrix
    self.column = column


class Group:
  """The tensors of a group of batches, and batch ``i`` of it, sliced to its real rows.

  Tensors of one dtype and shape are stacked once per run, outside the loop, so that batch
  ``i`` costs one gather per kind of tensor; a packed ``[k, batch, n]`` matrix from the input
  builders is gathered as it is and split with :func:`unstack_columns`.

  Args:
    features: the group's features (with ``groups.ROWS_KEY``, see ``tfest_adapters._core.
      groups``).
    labels: the group's labels, or None.

  Raises:
    ArgumentError: a malformed group.
  """

  def __init__(self, features, labels):
    features = dict(features)
    self.rows = features.pop(groups.ROWS_KEY)
    if self.rows.shape.rank != 1 or not self.rows.dtype.is_integer:
      _fail(
        'features[%r] must be the int row counts [k] of a group of batches, given: %s'
        % (groups.ROWS_KEY, self.rows)
      )
    self.features = features.pop(groups.FEATURES_KEY, None)
    if self.features is None:
      for key in [k for k in features if groups.packed_keys(k) is not None]:
        keys, matrix = groups.packed_keys(key), features.pop(key)
        if matrix.shape.rank != 3 or matrix.shape[2] != len(keys):
          _fail(
            'features[%r] must be a [k, batch_size, %d] matrix, given: %s'
            % (key, len(keys), matrix)
          )
        # Placeholders, replaced by the matrix's columns at each batch.
        features.update({k: _PackedColumn(matrix, j) for j, k in enumerate(keys)})
      self.features = features
    self.labels = labels
    leaves = tf.nest.flatten(self.features) + ([] if labels is None else tf.nest.flatten(labels))
    self._num_features = len(tf.nest.flatten(self.features))
    kinds = collections.OrderedDict()  # Kind -> (tensor, [(column, leaf index)]).
    dims = set()
    for index, leaf in enumerate(leaves):
      if isinstance(leaf, _PackedColumn):
        dims.add(leaf.matrix.shape[1])
        kinds.setdefault(('packed', id(leaf.matrix)), (leaf.matrix, []))[1].append(
          (leaf.column, index)
        )
        continue
      if not isinstance(leaf, tf.Tensor) or leaf.shape.rank is None or leaf.shape.rank < 2:
        _fail(
          'every feature and label of a group must be a dense Tensor [k, batch_size, ...], '
          'given: %r' % (leaf,)
        )
      dims.add(leaf.shape[1])
      entries = kinds.setdefault((leaf.dtype, tuple(leaf.shape[2:])), (None, []))[1]
      entries.append((len(entries), index))
    # Batches of a static size were stacked unpadded: no slicing, static shapes kept.
    self._full = len(dims) == 1 and None not in dims
    # (leaf indices, tensor, layout): 'packed' [k, batch, n] from the builders, 'stacked'
    # [n, k, batch, ...] stacked here, or 'single' [k, batch, ...].
    self._kinds = []
    with tf.name_scope('steps_per_run/group'):
      for kind, (matrix, entries) in kinds.items():
        # Leaf indices in the order the unstack gives the columns.
        indices = [i for _, i in sorted(entries)]
        if kind[0] == 'packed':
          self._kinds.append((indices, matrix, 'packed'))
        elif len(indices) == 1:
          self._kinds.append((indices, leaves[indices[0]], 'single'))
        else:
          stacked = tf.stack([leaves[i] for i in indices])  # [n, k, batch, ...]: copies.
          self._kinds.append((indices, stacked, 'stacked'))
    self._num_leaves = len(leaves)
    self.size = tf.size(self.rows)

  def batch(self, i):
    """(features, labels) of batch ``i`` (a scalar int32 Tensor)."""
    leaves = [None] * self._num_leaves
    rows = None if self._full else tf.gather(self.rows, i)
    for indices, tensor, layout in self._kinds:
      if layout == 'packed':
        batch = tf.gather(tensor, i)  # [batch, n]: contiguous.
        if rows is not None:
          batch = batch[:rows]
        parts = unstack_columns(batch, len(indices))
      elif layout == 'stacked':
        batch = tf.gather(tensor, i, axis=1)
        if rows is not None:
          batch = batch[:, :rows]
        parts = tf.unstack(batch, num=len(indices))
      else:
        batch = tf.gather(tensor, i)
        parts = [batch if rows is None else batch[:rows]]
      for index, part in zip(indices, parts):
        leaves[index] = part
    features = tf.nest.pack_sequence_as(self.features, leaves[: self._num_features])
    labels = (
      None
      if self.labels is None
      else tf.nest.pack_sequence_as(self.labels, leaves[self._num_features :])
    )
    return features, labels
