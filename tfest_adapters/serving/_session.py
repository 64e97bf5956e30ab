"""SavedModelSession: a SavedModel loaded once into a session, fed dicts of arrays.

The SavedModel is loaded into a ``tf.compat.v1.Session`` on a graph of its own and called
through a session callable made from ``CallableOptions`` (feed and fetch names), TF's own fast
path: the inputs are checked and converted here, once per call, so ``session.run``'s per-feed
checks are not paid again. :class:`Predictor` is its public face; ``export_saved_model`` loads
one to check an export.
"""

import os
import threading

import numpy as np

from tfest_adapters import exceptions
from tfest_adapters import keys
from tfest_adapters._core import validation
from tfest_adapters.serving import _packed
from tfest_adapters.serving import _receivers

_PREFERRED_SIGNATURES = (keys.SignatureKeys.PREDICT, keys.SignatureKeys.SERVING_DEFAULT)


def _find_export(path):
  """``path`` itself when it holds a SavedModel, else its newest timestamped export."""
  import tensorflow as tf

  if tf.io.gfile.exists(os.path.join(path, 'saved_model.pb')) or tf.io.gfile.exists(
    os.path.join(path, 'saved_model.pbtxt')
  ):
    return path
  if tf.io.gfile.isdir(path):
    versions = sorted(
      (name.rstrip('/') for name in tf.io.gfile.listdir(path) if name.rstrip('/').isdigit()),
      key=int,
    )
    for version in reversed(versions):
      candidate = os.path.join(path, version)
      if tf.io.gfile.exists(os.path.join(candidate, 'saved_model.pb')):
        return candidate
  validation.fail(
    'path',
    'a SavedModel directory (holding saved_model.pb), or an export '
    'base directory holding timestamped exports',
    path,
  )


def default_session_config():
  """The session config of a loaded SavedModel: ops run in the thread that calls it.

  ``inter_op_parallelism_threads < 0`` runs every op in the calling thread instead of a pool
  thread, which suits the small graphs served here (bench/predict_latency.py); the intra-op
  pool (a large MatMul's threads) is kept. Pass your own ``session_config`` for a wide graph
  whose branches should run in parallel.
  """
  import tensorflow as tf

  return tf.compat.v1.ConfigProto(inter_op_parallelism_threads=-1, allow_soft_placement=True)


class _Input:
  """One signature input: feed tensor, dtype, shape and how to convert a value for it."""

  __slots__ = ('key', 'tensor', 'tf_dtype', 'np_dtype', 'shape', 'is_string', '_rank', '_free')

  def __init__(self, key, tensor):
    self.key = key
    self.tensor = tensor
    self.tf_dtype = tensor.dtype
    self.is_string = tensor.dtype.name == 'string'
    self.np_dtype = None if self.is_string else tensor.dtype.as_numpy_dtype
    shape = tensor.shape
    self.shape = None if shape.rank is None else tuple(shape.as_list())
    self._rank = None if self.shape is None else len(self.shape)
    # No fixed dimension: a numeric array of the right dtype and rank is fed as it is.
    self._free = (
      not self.is_string and self.shape is not None and all(d is None for d in self.shape)
    )

  def describe_shape(self):
    if self.shape is None:
      return 'any shape'
    return str(tuple(self.shape)).replace('None', 'n')

  def convert(self, value):
    """(array, is_single_example) ready to feed, or an error naming the key."""
    if (
      self._free
      and type(value) is np.ndarray
      and value.dtype == self.np_dtype
      and value.ndim == self._rank
    ):
      return value, False
    array = (
      value
      if isinstance(value, np.ndarray)
      else np.asarray(value.to_numpy() if hasattr(value, 'to_numpy') else value)
    )
    kind = array.dtype.kind
    if self.is_string:
      if kind not in 'USO':
        self._fail_dtype(array)
    elif array.dtype != self.np_dtype:
      if not _packed.casts(array.dtype, self.np_dtype):
        self._fail_dtype(array)
      array = array.astype(self.np_dtype)
    single = False
    if self.shape is not None:
      if array.ndim == len(self.shape) - 1:
        array = array[np.newaxis]
        single = True
      if array.ndim != len(self.shape) or any(
        want is not None and want != got for want, got in zip(self.shape[1:], array.shape[1:])
      ):
        raise exceptions.ArgumentError(
          'features[%r] must have shape %s (n rows), given shape %s'
          % (self.key, self.describe_shape(), tuple(array.shape))
        )
    return array, single

  def _fail_dtype(self, array):
    expected = (
      'strings' if self.is_string else '%s (or numbers that cast to it)' % (self.tf_dtype.name)
    )
    raise exceptions.ArgumentError(
      'features[%r] must be %s, given dtype %s' % (self.key, expected, array.dtype)
    )


def _callable(session, feeds, fetches):
  """A callable of ``session`` fed arrays of the feeds' exact dtypes, in order; list of fetches.

  Made from ``CallableOptions`` (feed and fetch names), as ``session.run``'s own fast path:
  no per-feed check in Python; the callers convert and check the arrays. A signature fetching
  one of its inputs gets ``Session.make_callable`` (CallableOptions refuse it).
  """
  from tensorflow.core.protobuf import config_pb2

  if {t.name for t in feeds} & {t.name for t in fetches}:
    # An input also fetched (an output echoing a feature): only session.run returns it.
    return session.make_callable(fetches, feeds)
  names = list(dict.fromkeys(t.name for t in fetches))  # A tensor fetched twice is run once.
  options = config_pb2.CallableOptions(feed=[t.name for t in feeds], fetch=names)
  run = session._make_callable_from_options(options)
  if len(names) == len(fetches):
    return run
  index = [names.index(t.name) for t in fetches]

  def call(*arrays):
    results = run(*arrays)
    return [results[i] for i in index]

  return call


def _parsing_spec(graph, session, serialized):
  """{key: ('dense'|'sparse', dtype)} of the ParseExample op fed by ``serialized``, or None."""
  import tensorflow as tf

  for op in graph.get_operations():
    if op.type != 'ParseExampleV2' or op.inputs[0] is not serialized:
      continue
    sparse_keys, dense_keys = session.run([op.inputs[2], op.inputs[3]])
    spec = {}
    for key, dtype in zip(np.atleast_1d(dense_keys), op.get_attr('Tdense')):
      spec[key.decode()] = ('dense', tf.as_dtype(dtype))
    for key, dtype in zip(np.atleast_1d(sparse_keys), op.get_attr('sparse_types')):
      spec[key.decode()] = ('sparse', tf.as_dtype(dtype))
    return spec
  return None


def _plan_packs(meta_graph, signature):
  """The packed inputs (see _packed) of a signature."""
  import tensorflow as tf

  inputs = [
    (key, tf.as_dtype(info.dtype), tf.TensorShape(info.tensor_shape), info.name)
    for key, info in sorted(signature.inputs.items())
  ]
  fetched = [info.name for info in signature.outputs.values()]
  return _packed.plan(inputs, meta_graph.graph_def.node, fetched)


def _signature(meta_graph, signature_key, export_dir):
  """(key, SignatureDef) of the signature to call: ``signature_key`` or the default one."""
  signatures = dict(meta_graph.signature_def)
  if signature_key is None:
    signature_key = next((k for k in _PREFERRED_SIGNATURES if k in signatures), None)
    if signature_key is None and len(signatures) == 1:
      signature_key = next(iter(signatures))
  if signature_key not in signatures:
    validation.fail(
      'signature_key',
      'one of the signatures of %s (%s)' % (export_dir, ', '.join(sorted(signatures))),
      signature_key,
      error=exceptions.ArgumentKeyError,
    )
  signature = signatures[signature_key]
  for name, info in list(signature.inputs.items()) + list(signature.outputs.items()):
    if not info.name:
      raise exceptions.ArgumentError(
        'signature %r of %s has the composite (sparse or ragged) tensor %r, which a '
        'Predictor does not feed or fetch' % (signature_key, export_dir, name)
      )
  return signature_key, signature


class SavedModelSession:
  """A SavedModel loaded once, called with numpy arrays, DataFrames or lists.

  See :class:`tfest_adapters.serving.Predictor` (this class with its constructors) for how to
  call it. Safe to call from several threads; ``close()`` (or a ``with`` block) frees the
  session.

  Args:
    export_dir: a SavedModel directory, or an export base holding timestamped exports (the
      newest is loaded).
    signature_key: the signature to call; default ``'predict'`` when present, else
      ``'serving_default'`` (or the only one).
    session_config: a ``tf.compat.v1.ConfigProto`` for the session, or None for
      :func:`default_session_config`.
  """

  def __init__(self, export_dir, signature_key=None, session_config=None):
    import tensorflow as tf
    from tensorflow.python.saved_model import loader_impl

    self.export_dir = _find_export(os.fspath(export_dir))
    self._graph = tf.Graph()
    if session_config is None:
      session_config = default_session_config()
    self._session = tf.compat.v1.Session(graph=self._graph, config=session_config)
    tags = [tf.compat.v1.saved_model.tag_constants.SERVING]
    loader = loader_impl.SavedModelLoader(self.export_dir)
    meta_graph = loader.get_meta_graph_def_from_tags(tags)
    self.signature_key, signature = _signature(meta_graph, signature_key, self.export_dir)
    packs = _plan_packs(meta_graph, signature)
    mapping = _packed.input_map(self._graph, packs)
    with self._graph.as_default():
      loader.load(self._session, tags, input_map=mapping or None)
    get = self._graph.get_tensor_by_name
    self._inputs = [_Input(k, get(signature.inputs[k].name)) for k in sorted(signature.inputs)]
    index = {spec.key: i for i, spec in enumerate(self._inputs)}
    self._packs = [(pack, [index[k] for k in pack.keys]) for pack, _, _ in packs]
    packed = {k for pack, _, _ in packs for k in pack.keys}
    self._loose = [i for i, spec in enumerate(self._inputs) if spec.key not in packed]
    self.output_keys = tuple(sorted(signature.outputs))
    fetches = [get(signature.outputs[k].name) for k in self.output_keys]
    feeds = [pack.tensor for pack, _, _ in packs] + [self._inputs[i].tensor for i in self._loose]
    self._call = _callable(self._session, feeds, fetches)
    self._parse_spec = None
    if len(self._inputs) == 1 and self._inputs[0].is_string:
      self._parse_spec = _parsing_spec(self._graph, self._session, self._inputs[0].tensor)
    self._graph.finalize()
    self._lock = threading.Lock()

  # ----------------------------------------------------------------- prediction

  @property
  def input_keys(self):
    """The keys ``predict`` needs."""
    if self._parse_spec is not None:
      return tuple(sorted(self._parse_spec))
    return tuple(i.key for i in self._inputs)

  @property
  def input_spec(self):
    """dict key -> (dtype name, shape with None for the batch) of the signature inputs."""
    return {i.key: (i.tf_dtype.name, i.shape) for i in self._inputs}

  def _feeds(self, features):
    """(arrays to feed, in the callable's order; whether every feature was one example)."""
    features, is_frame = self._container(features)
    if self._packs:
      fast = self._packed_feeds(features, is_frame)
      if fast is not None:
        return fast
    arrays, single = self._columns(features, is_frame)
    if not self._packs:
      return arrays, single
    packed = [pack.from_columns([arrays[i] for i in where]) for pack, where in self._packs]
    return packed + [arrays[i] for i in self._loose], single

  def _container(self, features):
    """(features as a dict or DataFrame of the signature's keys, whether a DataFrame)."""
    if _receivers.is_array(features) and len(self._inputs) == 1 and self._parse_spec is None:
      features = {self._inputs[0].key: features}  # A model of one input, fed one array.
    columns = getattr(features, 'columns', None)
    is_frame = columns is not None and hasattr(features, 'iloc')
    if not is_frame and not isinstance(features, dict) and not hasattr(features, 'keys'):
      validation.fail(
        'features',
        'a dict of arrays (feature name -> values) or a pandas DataFrame%s'
        % (
          ' (an array only for a model of one input; this one takes %s)'
          % ', '.join(map(repr, self.input_keys))
          if _receivers.is_array(features)
          else ''
        ),
        features,
        error=exceptions.ArgumentTypeError,
      )
    if self._parse_spec is not None and _receivers.EXAMPLES_KEY not in features:
      arrays = _receivers.features_to_arrays(features, 'features', keys=sorted(self._parse_spec))
      rows = {len(np.atleast_1d(a)) for a in arrays.values()}
      if len(rows) != 1:
        raise exceptions.ArgumentError(
          'features must all have the same number of rows, '
          'given %s' % {k: len(a) for k, a in arrays.items()}
        )
      features = {_receivers.EXAMPLES_KEY: _receivers.serialize_examples(arrays, self._parse_spec)}
      is_frame = False
    return features, is_frame

  def _packed_feeds(self, features, is_frame):
    """The feeds when each pack reads its columns as one array, else None (column by column).

    Any value the packs cannot take, and any error, sends the call column by column, whose
    checks name what is wrong.
    """
    feeds, singles = [], set()
    for pack, _ in self._packs:
      if is_frame:
        packed = pack.from_frame(features)
      else:
        try:
          packed = pack.from_values([features[k] for k in pack.keys])
        except (KeyError, ValueError, TypeError):
          return None
      if packed is None:
        return None
      feeds.append(packed[0])
      singles.add(packed[1])
    for i in self._loose:
      spec = self._inputs[i]
      try:
        array, single = spec.convert(features[spec.key])
      except (KeyError, ValueError, TypeError, exceptions.TfestError):
        return None
      feeds.append(array)
      singles.add(single)
    if len(singles) != 1 or len({f.shape[:1] for f in feeds}) != 1:
      return None
    return feeds, singles == {True}

  def _columns(self, features, is_frame):
    """(one converted array per input, single example): column by column, every check."""
    columns = features.columns if is_frame else None
    feeds = []
    singles = set()
    for spec in self._inputs:
      try:
        value = features[spec.key]
      except KeyError:
        value = None
      if value is None:
        given = list(columns) if is_frame else list(features.keys())
        raise exceptions.ArgumentKeyError(
          'features is missing %r; the model expects keys: %s; given keys: %s'
          % (
            spec.key,
            ', '.join(repr(k) for k in self.input_keys),
            ', '.join(map(repr, given)) or 'none',
          )
        )
      array, single = spec.convert(value)
      singles.add(single)
      feeds.append(array)
    if len(singles) > 1:
      raise exceptions.ArgumentError(
        'features mix single examples and batches: give every feature with the batch '
        'dimension first, or none of them'
      )
    rows = [len(f) if f.shape else None for f in feeds]
    if len(set(rows)) > 1:
      raise exceptions.ArgumentError(
        'features must all have the same number of rows, given %s'
        % ', '.join('%d for %r' % (n, spec.key) for n, spec in zip(rows, self._inputs))
      )
    return feeds, singles == {True}

  def predict(self, features, batch_size=None):
    """Predicts a batch.

    Args:
      features: dict key -> array/list (or a pandas DataFrame) with every input key; or one
        array/list for a signature of one input.
      batch_size: feed at most this many rows per session call (None: all at once).

    Returns:
      dict output key -> numpy array, batch first (strings as object arrays of bytes). When
      every feature was given without its batch dimension, the batch dimension is removed.
    """
    if self._session is None:
      raise exceptions.TfestError('This Predictor is closed')
    feeds, single = self._feeds(features)
    if batch_size is None or not feeds or not feeds[0].shape or len(feeds[0]) <= batch_size:
      results = self._call(*feeds)
    else:
      validation.check_positive_int('batch_size', batch_size)
      parts = [
        self._call(*[f[i : i + batch_size] for f in feeds])
        for i in range(0, len(feeds[0]), batch_size)
      ]
      results = [np.concatenate([p[j] for p in parts]) for j in range(len(self.output_keys))]
    if single:
      return {k: v[0] for k, v in zip(self.output_keys, results)}
    return dict(zip(self.output_keys, results))

  __call__ = predict

  # ----------------------------------------------------------------- lifetime

  def close(self):
    """Closes the session; predicting then raises TfestError."""
    with self._lock:
      if self._session is not None:
        self._call = None  # Releases the callable while its session is open.
        self._session.close()
        self._session = None

  def __enter__(self):
    return self

  def __exit__(self, *exc_info):
    self.close()

  def __del__(self):
    try:
      self.close()
    except Exception:
      pass

  def __repr__(self):
    return '%s(%r, signature=%r, inputs=%s, outputs=%s)' % (
      type(self).__name__,
      self.export_dir,
      self.signature_key,
      list(self.input_keys),
      list(self.output_keys),
    )
