"""export_saved_model: export an Estimator with a serving receiver built for you, and check it.

The serving input receiver is built from what the model was trained on:

* raw tensors, from a sample batch (``sample_features``): one placeholder per feature with the
  sample's dtype and shape, the batch dimension left free (``None``). The SavedModel then takes
  the same dict of arrays that ``Estimator.predict``'s input_fn gave.
* ``tf.train.Example`` parsing: from a ``feature_spec`` (``tf.io.FixedLenFeature`` etc., as for
  ``tf.io.parse_example``), or from the sample with ``parse_examples=True`` (each feature a
  ``FixedLenFeature`` of its shape, parsed as float32/int64/string and cast back to the sample's
  dtype). The SavedModel then takes serialized Examples under the key ``'examples'``, as TF
  Serving's classify/regress APIs and ``build_parsing_serving_input_receiver_fn`` do.

After exporting, the SavedModel is loaded back and run on the sample; its outputs must equal
``Estimator.predict`` on the same sample and checkpoint, or the export is removed and an
:class:`ExportError` says which prediction differs and by how much.
"""

import os
import re

import numpy as np

from tfest_adapters._core import validation
from tfest_adapters import exceptions

EXAMPLES_KEY = 'examples'
# Tolerances of the export check: the same graph on the same inputs should agree to float32
# rounding; parsing float64 samples through tf.Example (float32) loses more.
_RTOL, _ATOL = 1e-5, 1e-6
_PARSED_RTOL, _PARSED_ATOL = 1e-4, 1e-5


# ------------------------------------------------------------------------ feature arrays


def _string_array(array, name):
  """An object array of bytes/str, or an error when the values are not strings."""
  if array.dtype.kind in 'US':
    return array
  for value in array.reshape(-1)[:64]:
    if not isinstance(value, (str, bytes)):
      validation.fail(name, 'numbers, bools or strings', array,
                       'It holds %s' % type(value).__name__)
  return array


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
    validation.fail(name, 'a dict of arrays (feature name -> values) or a pandas DataFrame',
                     features, error=exceptions.ArgumentTypeError)
  wanted = list(keys) if keys is not None else available
  missing = [k for k in wanted if k not in available]
  if missing:
    raise exceptions.ArgumentKeyError(
        '%s is missing feature %s; expected keys: %s; given keys: %s' % (
            name, ', '.join(repr(k) for k in missing), ', '.join(map(repr, wanted)),
            ', '.join(map(repr, available)) or 'none'))
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
      validation.fail('%s[%r]' % (name, key), 'a batch (an array with a first dimension)',
                       array.item(), 'Wrap a single example in a list')
    sizes[key] = array.shape[0]
  if len(set(sizes.values())) != 1:
    validation.fail(name, 'features with the same number of rows',
                     ', '.join('%s: %d' % kv for kv in sizes.items()))
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
  kinds = (tf.io.FixedLenFeature, tf.io.VarLenFeature, tf.io.FixedLenSequenceFeature,
           tf.io.SparseFeature, tf.io.RaggedFeature)
  if not isinstance(feature_spec, dict) or not feature_spec:
    validation.fail('feature_spec', 'a non-empty dict of name -> tf.io.FixedLenFeature / '
                     'VarLenFeature (as for tf.io.parse_example)', feature_spec,
                     error=exceptions.ArgumentTypeError)
  for key, feature in feature_spec.items():
    if not isinstance(feature, kinds):
      validation.fail('feature_spec[%r]' % key, 'a tf.io.FixedLenFeature, VarLenFeature, '
                       'FixedLenSequenceFeature, SparseFeature or RaggedFeature', feature,
                       error=exceptions.ArgumentTypeError)
  return feature_spec


def build_serving_input_receiver_fn(sample_features=None, feature_spec=None,
                                    parse_examples=False):
  """Builds the serving_input_receiver_fn for ``Estimator.export_saved_model``.

  Example:

    receiver_fn = build_serving_input_receiver_fn(sample_features={'x': x_test[:2]})
    estimator.export_saved_model('export', receiver_fn)

  Args:
    sample_features: a batch of features (dict of arrays or DataFrame) as the model's
      input_fn yields them: dtypes and row shapes are taken from it.
    feature_spec: a ``tf.io.parse_example`` spec; the receiver parses serialized Examples.
    parse_examples: with ``sample_features``, parse serialized Examples instead of taking raw
      tensors.

  Returns:
    ``serving_input_receiver_fn()`` taking no argument and returning a
    ``tf.estimator.export.ServingInputReceiver``: raw placeholders keyed by feature name, or
    one string placeholder ``'examples'`` of serialized ``tf.train.Example``.
  """
  import tensorflow as tf
  if (sample_features is None) == (feature_spec is None):
    raise exceptions.ArgumentError(
        'exactly one of sample_features and feature_spec must be given, given: %s' % (
            'both' if sample_features is not None else 'neither'))
  validation.check_bool('parse_examples', parse_examples)
  if feature_spec is not None:
    spec = dict(_validate_feature_spec(feature_spec))
    casts = {}
  else:
    arrays = _check_sample(features_to_arrays(sample_features, 'sample_features'),
                           'sample_features')
    if not parse_examples:
      dtypes = {k: _tf_dtype(a) for k, a in arrays.items()}
      shapes = {k: [None] + list(a.shape[1:]) for k, a in arrays.items()}

      def raw_receiver_fn():
        tensors = {k: tf.compat.v1.placeholder(dtypes[k], shapes[k], name=_op_name(k))
                   for k in sorted(dtypes)}
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
            int64_list=tf.train.Int64List(value=[int(v) for v in values.tolist()]))
    examples[i] = tf.train.Example(
        features=tf.train.Features(feature=feature)).SerializeToString()
  return examples


# ------------------------------------------------------------------------------ exporting


def _estimator_checkpoint(estimator, checkpoint_path):
  import tensorflow as tf
  if checkpoint_path is not None:
    checkpoint_path = os.fspath(checkpoint_path)
    if not (tf.io.gfile.exists(checkpoint_path + '.index') or
            tf.io.gfile.exists(checkpoint_path + '.meta')):
      validation.fail('checkpoint_path', 'an existing checkpoint prefix (model.ckpt-N)',
                       checkpoint_path, error=exceptions.ExportError)
    return checkpoint_path
  latest = tf.train.latest_checkpoint(estimator.model_dir)
  if not latest:
    raise exceptions.ExportError(
        'Cannot export: no checkpoint in model_dir %s, so the model has no trained weights '
        'to export. Train it first (tfest_adapters.fit or estimator.train), or pass '
        'checkpoint_path=' % estimator.model_dir)
  return latest


def _predict_input_fn(arrays):
  def input_fn():
    import tensorflow as tf
    return tf.data.Dataset.from_tensor_slices(dict(arrays)).batch(
        len(next(iter(arrays.values()))))
  return input_fn


def estimator_predictions(estimator, arrays, checkpoint_path=None):
  """``Estimator.predict`` on one batch, as a dict of numpy arrays (batch first)."""
  results = list(estimator.predict(_predict_input_fn(arrays), checkpoint_path=checkpoint_path,
                                   yield_single_examples=False))
  if len(results) != 1:
    raise exceptions.ExportError('Estimator.predict gave %d batches for one sample batch'
                                 % len(results))
  prediction = results[0]
  if not isinstance(prediction, dict):
    prediction = {'predictions': prediction}
  return {k: np.asarray(v) for k, v in prediction.items()}


def compare_predictions(served, expected, rtol=_RTOL, atol=_ATOL):
  """Returns a list of (key, description) for each common key whose values differ."""
  problems = []
  for key in sorted(set(served) & set(expected)):
    a, b = np.asarray(served[key]), np.asarray(expected[key])
    if a.shape != b.shape:
      problems.append((key, 'shape %s, Estimator.predict gives %s' % (a.shape, b.shape)))
    elif a.dtype.kind in 'fc' or b.dtype.kind in 'fc':
      if not np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True):
        problems.append((key, 'differs by up to %.3g' % float(np.nanmax(np.abs(
            a.astype(np.float64) - b.astype(np.float64))))))
    elif not np.array_equal(a, b):
      problems.append((key, '%d of %d values differ' % (int(np.sum(a != b)), a.size)))
  return problems


def export_and_load(estimator, export_dir_base, *, sample_features=None, feature_spec=None,
                    parse_examples=False, checkpoint_path=None, check=True):
  """Exports, loads the export back as a Predictor and checks it; returns (path, predictor)."""
  from tfest_adapters.serving import _predictor
  import tensorflow as tf
  if not isinstance(estimator, tf.estimator.Estimator):
    validation.fail('estimator', 'a tf.estimator.Estimator', estimator,
                     error=exceptions.ArgumentTypeError)
  if not isinstance(export_dir_base, (str, os.PathLike)) or not os.fspath(export_dir_base):
    validation.fail('export_dir_base', 'a directory path', export_dir_base,
                     error=exceptions.ArgumentTypeError)
  receiver_fn = build_serving_input_receiver_fn(sample_features, feature_spec, parse_examples)
  checkpoint_path = _estimator_checkpoint(estimator, checkpoint_path)
  arrays = None
  if sample_features is not None:
    arrays = features_to_arrays(sample_features, 'sample_features')
  path = estimator.export_saved_model(os.fspath(export_dir_base), receiver_fn,
                                      checkpoint_path=checkpoint_path)
  path = path.decode() if isinstance(path, bytes) else path
  try:
    predictor = _predictor.Predictor(path)
  except Exception as e:
    raise exceptions.ExportError('The SavedModel exported to %s cannot be loaded back: %s'
                                 % (path, e)) from e
  if check and arrays is not None:
    served = predictor.predict(arrays)
    expected = estimator_predictions(estimator, arrays, checkpoint_path)
    parsed = parse_examples or feature_spec is not None
    problems = compare_predictions(served, expected, *(
        (_PARSED_RTOL, _PARSED_ATOL) if parsed else (_RTOL, _ATOL)))
    common = set(served) & set(expected)
    if problems or not common:
      predictor.close()
      tf.io.gfile.rmtree(path)
      if not common:
        raise exceptions.ExportError(
            'The SavedModel exported to %s (removed) cannot be checked: its signature %r '
            'outputs %s, none of the Estimator\'s prediction keys %s. Add a PredictOutput '
            'of the predictions to export_outputs' % (
                path, predictor.signature_key, sorted(served), sorted(expected)))
      raise exceptions.ExportError(
          'The SavedModel exported to %s (removed) does not reproduce Estimator.predict on '
          'sample_features (checkpoint %s): %s' % (
              path, checkpoint_path,
              '; '.join('%r %s' % problem for problem in problems)))
  return path, predictor


def export_saved_model(estimator, export_dir_base, *, sample_features=None, feature_spec=None,
                       parse_examples=False, checkpoint_path=None):
  """Exports ``estimator`` as a SavedModel, checked against ``Estimator.predict``.

  Example:

    export_dir = tfa.export_saved_model(estimator, 'runs/iris/export',
                                        sample_features=x_test[:3])
    tfa.Predictor.from_saved_model(export_dir)(x_test[:3])

  Args:
    estimator: a trained ``tf.estimator.Estimator``.
    export_dir_base: directory under which a timestamped export directory is created.
    sample_features: a batch of features (dict of arrays or DataFrame, at least one row), as
      the input_fn gives them to the model: the raw receiver takes these dtypes and row shapes
      (batch dimension free), and the export is checked on them.
    feature_spec: a ``tf.io.parse_example`` spec, for a receiver of serialized
      ``tf.train.Example`` (key ``'examples'``). Without sample_features nothing can be
      compared: the export is only loaded back.
    parse_examples: with sample_features, build a tf.Example parsing receiver from them.
    checkpoint_path: the checkpoint to export (default: the latest in model_dir), such as
      ``History.best_checkpoint``.

  Returns:
    The export directory (str).

  Raises:
    ExportError: no checkpoint to export; the export cannot be loaded; or it does not
      reproduce ``Estimator.predict`` on the sample (the export is then removed).
    ArgumentError, ArgumentTypeError, ArgumentKeyError: bad arguments, before exporting.
  """
  path, predictor = export_and_load(
      estimator, export_dir_base, sample_features=sample_features, feature_spec=feature_spec,
      parse_examples=parse_examples, checkpoint_path=checkpoint_path)
  predictor.close()
  return path
