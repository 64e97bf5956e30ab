"""Serving receivers: the serving_input_receiver_fn of a sample or a tf.Example spec.

A receiver of raw tensors takes what the model's input_fn gives, a dict of arrays or one array
(dtypes and row shapes of a sample, the batch dimension free; one array is served under
:data:`ARRAY_KEY`); a parsing receiver takes serialized ``tf.train.Example`` under
:data:`EXAMPLES_KEY`, as TF Serving's classify/regress APIs do.
"""

import re

import numpy as np

from tfest_adapters import exceptions
from tfest_adapters._core import validation

# The receiver key of serialized tf.train.Example (as build_parsing_serving_input_receiver_fn).
EXAMPLES_KEY = 'examples'
# The signature input of a model fed one array: TF's name for a receiver's single tensor
# (export_utils.SINGLE_RECEIVER_DEFAULT_NAME).
ARRAY_KEY = 'input'


# ------------------------------------------------------------------------ feature arrays


def _string_array(array, name):
  """An object array of bytes/str, or an error when the values are not strings."""
  if array.dtype.kind in 'US':
    return array
  for value in array.reshape(-1)[:64]:
    if not isinstance(value, (str, bytes)):
      validation.fail(
        name, 'numbers, bools or strings', array, 'It holds %s' % type(value).__name__
      )
  return array


def is_array(features):
  """True for features given as one array or list (a model fed one tensor), not by name."""
  return isinstance(features, (np.ndarray, list))


def sample_to_arrays(features, name='features'):
  """:func:`features_to_arrays` of a dict or DataFrame; one numpy array of an array or list."""
  if is_array(features):
    return features_to_arrays({ARRAY_KEY: features}, name)[ARRAY_KEY]
  return features_to_arrays(features, name)


def features_to_arrays(features, name='features', keys=None):
  """Converts a dict of array-likes or a pandas DataFrame into a dict of numpy arrays.

  Args:
    features: dict name -> numpy array, list or pandas Series; or a pandas DataFrame (one
      feature per column).
    name: the argument's name, for error messages.
    keys: only these keys (all when None); a missing one is an ArgumentKeyError.

  Returns:
    dict name -> numpy array (strings as object arrays), in ``keys`` order if given.
  """
  columns = getattr(features, 'columns', None)
  if columns is not None and hasattr(features, 'iloc'):
    available = [str(c) for c in columns]
    getter = lambda key: features[key].to_numpy()  # noqa: E731
  elif isinstance(features, dict) or hasattr(features, 'keys'):
    available = list(features.keys())
    getter = lambda key: features[key]  # noqa: E731
  else:
    validation.fail(
      name,
      'a dict of arrays (feature name -> values) or a pandas DataFrame',
      features,
      error=exceptions.ArgumentTypeError,
    )
  wanted = list(keys) if keys is not None else available
  missing = [k for k in wanted if k not in available]
  if missing:
    raise exceptions.ArgumentKeyError(
      '%s is missing feature %s; expected keys: %s; given keys: %s'
      % (
        name,
        ', '.join(repr(k) for k in missing),
        ', '.join(map(repr, wanted)),
        ', '.join(map(repr, available)) or 'none',
      )
    )
  arrays = {}
  for key in wanted:
    value = getter(key)
    if hasattr(value, 'to_numpy'):
      value = value.to_numpy()
    array = np.asarray(value)
    if array.dtype.kind == 'O':
      array = _string_array(array, '%s[%r]' % (name, key))
    elif array.dtype.kind not in 'biufUS':
      validation.fail('%s[%r]' % (name, key), 'numbers, bools or strings', array)
    arrays[key] = array
  return arrays


def _tf_dtype(array):
  import tensorflow as tf

  if array.dtype.kind in 'USO':
    return tf.string
  return tf.as_dtype(array.dtype)


def _check_sample(arrays, name):
  if not arrays:
    validation.fail(name, 'at least one feature', arrays)
  sizes = {}
  for key, array in arrays.items():
    if array.ndim == 0:
      validation.fail(
        '%s[%r]' % (name, key),
        'a batch (an array with a first dimension)',
        array.item(),
        'Wrap a single example in a list',
      )
    sizes[key] = array.shape[0]
  if len(set(sizes.values())) != 1:
    validation.fail(
      name,
      'features with the same number of rows',
      ', '.join('%s: %d' % kv for kv in sizes.items()),
    )
  if not next(iter(sizes.values())):
    validation.fail(name, 'at least one row', 'an empty batch')
  return arrays


def _op_name(key):
  """A valid op name derived from a feature name (the signature key stays the feature name)."""
  name = re.sub(r'[^A-Za-z0-9_.\-/]', '_', str(key))
  return name if re.match(r'[A-Za-z0-9.]', name) else 'f' + name


def feature_spec_from_sample(arrays):
  """A tf.Example parsing spec for a sample: FixedLenFeature of each feature's row shape."""
  import tensorflow as tf

  spec = {}
  for key, array in arrays.items():
    if array.dtype.kind in 'USO':
      dtype = tf.string
    elif array.dtype.kind == 'f':
      dtype = tf.float32
    else:
      dtype = tf.int64
    spec[key] = tf.io.FixedLenFeature(list(array.shape[1:]), dtype)
  return spec


def _validate_feature_spec(feature_spec):
  import tensorflow as tf

  kinds = (
    tf.io.FixedLenFeature,
    tf.io.VarLenFeature,
    tf.io.FixedLenSequenceFeature,
    tf.io.SparseFeature,
    tf.io.RaggedFeature,
  )
  if not isinstance(feature_spec, dict) or not feature_spec:
    validation.fail(
      'feature_spec',
      'a non-empty dict of name -> tf.io.FixedLenFeature / '
      'VarLenFeature (as for tf.io.parse_example)',
      feature_spec,
      error=exceptions.ArgumentTypeError,
    )
  for key, feature in feature_spec.items():
    if not isinstance(feature, kinds):
      validation.fail(
        'feature_spec[%r]' % key,
        'a tf.io.FixedLenFeature, VarLenFeature, '
        'FixedLenSequenceFeature, SparseFeature or RaggedFeature',
        feature,
        error=exceptions.ArgumentTypeError,
      )
  return feature_spec


def build_serving_input_receiver_fn(sample_features=None, feature_spec=None, parse_examples=False):
  """Builds the serving_input_receiver_fn for ``Estimator.export_saved_model``.

  Example:

    receiver_fn = build_serving_input_receiver_fn(sample_features={'x': x_test[:2]})
    estimator.export_saved_model('export', receiver_fn)

  Args:
    sample_features: a batch of features (dict of arrays, DataFrame, or one array for a model
      fed one tensor) as the model's input_fn yields them: dtypes and row shapes are taken
      from it.
    feature_spec: a ``tf.io.parse_example`` spec; the receiver parses serialized Examples.
    parse_examples: with ``sample_features``, parse serialized Examples instead of taking raw
      tensors.

  Returns:
    ``serving_input_receiver_fn()`` taking no argument and returning a
    ``tf.estimator.export.ServingInputReceiver``: raw placeholders keyed by feature name, one
    placeholder ``'input'`` handed to the model_fn as its features (a
    ``TensorServingInputReceiver``, for one array), or one string placeholder ``'examples'``
    of serialized ``tf.train.Example``.
  """
  import tensorflow as tf

  if (sample_features is None) == (feature_spec is None):
    raise exceptions.ArgumentError(
      'exactly one of sample_features and feature_spec must be given, given: %s'
      % ('both' if sample_features is not None else 'neither')
    )
  validation.check_bool('parse_examples', parse_examples)
  if feature_spec is not None:
    spec = dict(_validate_feature_spec(feature_spec))
    casts = {}
  else:
    sample = sample_to_arrays(sample_features, 'sample_features')
    if isinstance(sample, np.ndarray):
      return _array_receiver_fn(sample, parse_examples)
    arrays = _check_sample(sample, 'sample_features')
    if not parse_examples:
      dtypes = {k: _tf_dtype(a) for k, a in arrays.items()}
      shapes = {k: [None] + list(a.shape[1:]) for k, a in arrays.items()}

      def raw_receiver_fn():
        tensors = {
          k: tf.compat.v1.placeholder(dtypes[k], shapes[k], name=_op_name(k))
          for k in sorted(dtypes)
        }
        return tf.estimator.export.ServingInputReceiver(tensors, tensors)

      return raw_receiver_fn
    spec = feature_spec_from_sample(arrays)
    casts = {k: _tf_dtype(a) for k, a in arrays.items()}

  def parsing_receiver_fn():
    serialized = tf.compat.v1.placeholder(tf.string, [None], name='input_example_tensor')
    features = tf.io.parse_example(serialized, spec)
    for key, dtype in casts.items():
      if features[key].dtype != dtype:
        features[key] = tf.cast(features[key], dtype)
    return tf.estimator.export.ServingInputReceiver(features, {EXAMPLES_KEY: serialized})

  return parsing_receiver_fn


def _array_receiver_fn(array, parse_examples):
  """The raw receiver of a model fed one array: one placeholder, the features themselves."""
  import tensorflow as tf

  _check_sample({ARRAY_KEY: array}, 'sample_features')
  if parse_examples:
    raise exceptions.ArgumentError(
      'parse_examples needs named features (a tf.train.Example holds features by name), given '
      'sample_features as one array of shape %s: leave parse_examples False to serve the '
      'array itself' % (array.shape,)
    )
  dtype, shape = _tf_dtype(array), [None] + list(array.shape[1:])

  def array_receiver_fn():
    tensor = tf.compat.v1.placeholder(dtype, shape, name=ARRAY_KEY)
    return tf.estimator.export.TensorServingInputReceiver(tensor, {ARRAY_KEY: tensor})

  return array_receiver_fn


def serialize_examples(arrays, spec):
  """Serializes a batch (dict of arrays) into tf.train.Example strings, one per row.

  Args:
    arrays: dict name -> array with the batch first.
    spec: dict name -> (kind, tf dtype) where kind is 'dense' or 'sparse', or a
      tf.io.parse_example spec.

  Returns:
    A numpy object array of serialized Examples.
  """
  import tensorflow as tf

  rows = len(next(iter(arrays.values())))
  kinds = {}
  for key, entry in spec.items():
    if isinstance(entry, tuple):
      kinds[key] = entry[1]
    else:
      kinds[key] = entry.dtype
  examples = np.empty(rows, dtype=object)
  columns = {k: np.asarray(arrays[k]) for k in kinds}
  for i in range(rows):
    feature = {}
    for key, dtype in kinds.items():
      values = np.asarray(columns[key][i]).reshape(-1)
      if dtype == tf.string:
        data = [v.encode() if isinstance(v, str) else bytes(v) for v in values.tolist()]
        feature[key] = tf.train.Feature(bytes_list=tf.train.BytesList(value=data))
      elif dtype.is_floating:
        feature[key] = tf.train.Feature(float_list=tf.train.FloatList(value=values.tolist()))
      else:
        feature[key] = tf.train.Feature(
          int64_list=tf.train.Int64List(value=[int(v) for v in values.tolist()])
        )
    examples[i] = tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()
  return examples
