"""Packed inputs: a signature's numeric columns fed as one matrix and split in the graph.

A signature of many inputs of one numeric dtype, each one value per row (shape ``(n,)`` or
``(n, 1)``), is loaded with its placeholders mapped to the columns of one ``(n, columns)``
placeholder (an ``Unpack`` or ``Split`` op), so a call feeds one array whatever the number of
columns: TF's cost per fed tensor is paid once. The outputs are the same: the split ops hand
the model the same values its placeholders would have had.
"""

import numpy as np

MIN_COLUMNS = 2
_NAME = 'tfest_adapters_packed_inputs_%d'


class Pack:
  """Signature inputs of one dtype and row shape, fed as the columns of one matrix.

  Attributes:
    keys: the inputs' keys, in column order.
    np_dtype: their numpy dtype.
    row_rank: 1 for inputs of shape ``(n,)``, 2 for ``(n, 1)``.
    tensor: the placeholder fed (set by :func:`input_map`).
  """

  __slots__ = ('keys', 'np_dtype', 'row_rank', 'tensor', '_index')

  def __init__(self, keys, np_dtype, row_rank):
    self.keys = list(keys)
    self.np_dtype = np_dtype
    self.row_rank = row_rank
    self.tensor = None
    self._index = None  # The keys as a pandas Index, made at the first DataFrame.

  def from_values(self, values):
    """(matrix, is_single_example) of one array per key, or None to go column by column.

    Read as one array by numpy. Its dtype is the inputs' only when every value casts to it
    exactly (numpy promotes to it from narrower kinds only), and another dtype is cast only
    from a single source (one numpy dtype, or Python numbers of one type): the matrix holds
    what each column's own cast would give.
    """
    try:
      matrix = np.array(values)
    except (ValueError, TypeError):
      return None  # Ragged or unreadable: the column by column path says which.
    if matrix.dtype != self.np_dtype:
      if not self._casts(matrix.dtype) or not _one_source_type(values):
        return None
      matrix = matrix.astype(self.np_dtype)
    shape, rank = matrix.shape, self.row_rank
    if rank == 2 and shape[-1] != 1:
      return None
    single = matrix.ndim == rank
    if not single and matrix.ndim != rank + 1:
      return None
    rows = 1 if single else shape[1]
    return np.ascontiguousarray(matrix.reshape(len(values), rows).T), single

  def from_frame(self, frame):
    """(matrix, False) of the key columns of a DataFrame read as one array, or None.

    None for inputs of shape ``(n, 1)``: a frame's columns go column by column there.
    """
    if self.row_rank != 1:
      return None
    if self._index is None:
      import pandas as pd  # A DataFrame was given: pandas is there.

      self._index = pd.Index(self.keys)
    columns = frame.columns
    positions = None
    if not columns.equals(self._index):
      if not columns.is_unique:
        return None
      positions = columns.get_indexer(self._index)
      if (positions < 0).any():
        return None
    matrix = frame.to_numpy()
    if matrix.dtype != self.np_dtype:
      # Mixed column dtypes read as one promoted dtype: cast exactly only from one source.
      dtypes = frame.dtypes if positions is None else frame.dtypes.iloc[positions]
      if not self._casts(matrix.dtype) or len(set(dtypes)) != 1:
        return None
    if positions is not None:
      matrix = matrix[:, positions]
    return np.ascontiguousarray(matrix, dtype=self.np_dtype), False

  def from_columns(self, arrays):
    """The matrix of arrays already converted for their inputs (batch first)."""
    if self.row_rank == 1:
      return np.stack(arrays, axis=1)
    return np.concatenate(arrays, axis=1)

  def _casts(self, dtype):
    return dtype == self.np_dtype or casts(dtype, self.np_dtype)


def casts(source, target):
  """Whether a numeric input of dtype ``target`` takes values of dtype ``source`` (cast)."""
  return source.kind in 'biuf' and np.can_cast(source, target, 'same_kind')


def _one_source_type(values):
  """Whether the values are all Python numbers of one type, or all of one numpy dtype."""
  types = {type(v) for v in values}
  if len(types) != 1:
    return False
  if types <= {float, int, bool}:
    return True
  dtypes = {getattr(v, 'dtype', None) for v in values}
  return len(dtypes) == 1 and None not in dtypes


def _tensor_name(node_input):
  return node_input if ':' in node_input else node_input + ':0'


def _constant_int(node):
  values = node.attr['value'].tensor.int_val
  return values[0] if node.op == 'Const' and len(values) == 1 else None


def _stacking_node(nodes, names, row_rank):
  """(tensor name, ordered input names) of a node stacking exactly ``names`` as columns, or None.

  A ``Pack`` on axis 1 of inputs ``(n,)``, or a ``ConcatV2`` on axis 1 of inputs ``(n, 1)``
  (the templates' input layer, and any model stacking its columns), gives the packed matrix
  itself when its inputs are the columns in its order.
  """
  wanted = set(names)
  by_name = {node.name: node for node in nodes}
  for node in nodes:
    inputs = [i for i in node.input if not i.startswith('^')]
    if node.op == 'Pack' and row_rank == 1 and node.attr['axis'].i in (1, -1):
      columns = inputs
    elif node.op == 'ConcatV2' and row_rank == 2 and inputs:
      axis = by_name.get(inputs[-1].split(':')[0])
      if axis is None or _constant_int(axis) not in (1, -1):
        continue
      columns = inputs[:-1]
    else:
      continue
    columns = [_tensor_name(i) for i in columns]
    if len(columns) == len(wanted) and set(columns) == wanted:
      return node.name + ':0', columns
  return None


def plan(inputs, nodes, fetched):
  """[(Pack, its placeholders' tensor names, stacking tensor name or None)] of a signature.

  ``inputs``: [(key, tf dtype, TensorShape, tensor name)] of the signature; ``nodes``: its
  graph's NodeDefs; ``fetched``: tensor names the signature outputs. Placeholders not fetched
  and under one key only are packed, in groups of at least MIN_COLUMNS inputs of one numeric
  dtype and shape ``(None,)`` or ``(None, 1)``, ordered as a node stacking them all
  (:func:`_stacking_node`) when there is one. None of them when the graph already has a name
  a packed placeholder would take.
  """
  placeholders = {node.name + ':0' for node in nodes if node.op == 'Placeholder'} - set(fetched)
  names = [name for _, _, _, name in inputs]
  placeholders -= {name for name in names if names.count(name) > 1}  # One tensor, two keys.
  groups = {}
  for key, dtype, shape, name in inputs:
    if name not in placeholders or dtype.name == 'string' or not dtype.is_numpy_compatible:
      continue
    dims = shape.as_list() if shape.rank is not None else None
    if dims not in ([None], [None, 1]):
      continue
    groups.setdefault((dtype.name, len(dims)), []).append((name, key, dtype))
  packs = []
  for (_, row_rank), members in sorted(groups.items()):
    if len(members) < MIN_COLUMNS:
      continue
    key_of = {name: key for name, key, _ in members}
    names = [name for name, _, _ in members]
    stacking = _stacking_node(nodes, names, row_rank)
    stack_name = None
    if stacking is not None:
      stack_name, names = stacking
    pack = Pack([key_of[name] for name in names], members[0][2].as_numpy_dtype, row_rank)
    packs.append((pack, names, stack_name))
  taken = {node.name for node in nodes}
  if any((_NAME % i) in taken for i in range(len(packs))):
    return []
  return packs


def input_map(graph, packs):
  """{tensor name: tensor} for the loader: placeholders to the packed columns, stacks to it.

  Sets each Pack's ``tensor``, the placeholder fed.
  """
  import tensorflow as tf

  mapping = {}
  with graph.as_default():
    for i, (pack, names, stack_name) in enumerate(packs):
      dtype = tf.as_dtype(pack.np_dtype)
      pack.tensor = tf.compat.v1.placeholder(dtype, [None, len(names)], name=_NAME % i)
      if pack.row_rank == 1:
        columns = tf.unstack(pack.tensor, num=len(names), axis=1)
      else:
        columns = tf.split(pack.tensor, len(names), axis=1)
      mapping.update(zip(names, columns))
      if stack_name is not None:
        mapping[stack_name] = pack.tensor
  return mapping
