"""export_saved_model: export an Estimator with a receiver built for you, and check the export.

After exporting, the SavedModel is loaded back and run on the sample; its outputs must equal
``Estimator.predict`` on the same sample and checkpoint, or the export is removed.
"""

import os

import numpy as np

from tfest_adapters import exceptions
from tfest_adapters._core import best_checkpoint
from tfest_adapters._core import validation
from tfest_adapters.serving import _receivers
from tfest_adapters.serving import _session

# Tolerances of the export check: the same graph on the same inputs should agree to float32
# rounding; parsing float64 samples through tf.Example (float32) loses more.
_RTOL, _ATOL = 1e-5, 1e-6
_PARSED_RTOL, _PARSED_ATOL = 1e-4, 1e-5


def _estimator_checkpoint(estimator, checkpoint_path):
  import tensorflow as tf

  if checkpoint_path == best_checkpoint.BEST:
    return _best_checkpoint(estimator)
  if checkpoint_path is not None:
    checkpoint_path = os.fspath(checkpoint_path)
    if not (
      tf.io.gfile.exists(checkpoint_path + '.index')
      or tf.io.gfile.exists(checkpoint_path + '.meta')
    ):
      validation.fail(
        'checkpoint_path',
        "an existing checkpoint prefix (model.ckpt-N) or 'best'",
        checkpoint_path,
        error=exceptions.ExportError,
      )
    return checkpoint_path
  latest = tf.train.latest_checkpoint(estimator.model_dir)
  if not latest:
    raise exceptions.ExportError(
      'Cannot export: no checkpoint in model_dir %s, so the model has no trained weights '
      'to export. Train it first (tfest_adapters.fit or estimator.train), or pass '
      'checkpoint_path=' % estimator.model_dir
    )
  return latest


def _best_checkpoint(estimator):
  """The best checkpoint fit kept in the estimator's model_dir, or an ExportError."""
  path = best_checkpoint.latest(estimator.model_dir)
  if not path:
    raise exceptions.ExportError(
      "checkpoint_path='best' needs the best checkpoint that fit keeps, but %s holds none, "
      'given: %r. Train with tfest_adapters.fit(..., eval_input_fn=...) (keep_best=True, the '
      'default), or leave checkpoint_path out for the latest checkpoint'
      % (best_checkpoint.directory(estimator.model_dir), best_checkpoint.BEST)
    )
  return path


def _predict_input_fn(arrays):
  """One batch of ``arrays``: a dict of arrays, or one array (a model fed one tensor)."""
  features = arrays if isinstance(arrays, np.ndarray) else dict(arrays)
  rows = len(arrays if isinstance(arrays, np.ndarray) else next(iter(arrays.values())))

  def input_fn():
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices(features).batch(rows)

  return input_fn


def estimator_predictions(estimator, arrays, checkpoint_path=None):
  """``Estimator.predict`` on one batch, as a dict of numpy arrays (batch first)."""
  results = list(
    estimator.predict(
      _predict_input_fn(arrays), checkpoint_path=checkpoint_path, yield_single_examples=False
    )
  )
  if len(results) != 1:
    raise exceptions.ExportError(
      'Estimator.predict gave %d batches for one sample batch' % len(results)
    )
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
        problems.append(
          (
            key,
            'differs by up to %.3g'
            % float(np.nanmax(np.abs(a.astype(np.float64) - b.astype(np.float64)))),
          )
        )
    elif not np.array_equal(a, b):
      problems.append((key, '%d of %d values differ' % (int(np.sum(a != b)), a.size)))
  return problems


def export_and_load(
  estimator,
  export_dir_base,
  *,
  sample_features=None,
  feature_spec=None,
  parse_examples=False,
  checkpoint_path=None,
  check=True,
  load=_session.SavedModelSession,
):
  """Exports, loads the export back and checks it; returns (path, loaded model).

  Args:
    estimator, export_dir_base, sample_features, feature_spec, parse_examples,
      checkpoint_path: see :func:`export_saved_model`.
    check: compare the loaded export with ``Estimator.predict`` on ``sample_features``.
    load: ``load(path)`` loads the export: a :class:`SavedModelSession` class (the
      Predictor's ``from_estimator`` passes its own).

  Returns:
    (export directory, what ``load`` returned).
  """
  import tensorflow as tf

  if not isinstance(estimator, tf.estimator.Estimator):
    validation.fail(
      'estimator', 'a tf.estimator.Estimator', estimator, error=exceptions.ArgumentTypeError
    )
  if not isinstance(export_dir_base, (str, os.PathLike)) or not os.fspath(export_dir_base):
    validation.fail(
      'export_dir_base', 'a directory path', export_dir_base, error=exceptions.ArgumentTypeError
    )
  receiver_fn = _receivers.build_serving_input_receiver_fn(
    sample_features, feature_spec, parse_examples
  )
  checkpoint_path = _estimator_checkpoint(estimator, checkpoint_path)
  arrays = None
  if sample_features is not None:
    arrays = _receivers.sample_to_arrays(sample_features, 'sample_features')
  path = _export(estimator, os.fspath(export_dir_base), receiver_fn, checkpoint_path, arrays)
  try:
    loaded = load(path)
  except Exception as e:
    raise exceptions.ExportError(
      'The SavedModel exported to %s cannot be loaded back: %s' % (path, e)
    ) from e
  if check and arrays is not None:
    parsed = parse_examples or feature_spec is not None
    _check_export(estimator, loaded, path, arrays, checkpoint_path, parsed)
  return path, loaded


def _export(estimator, export_dir_base, receiver_fn, checkpoint_path, arrays):
  """``Estimator.export_saved_model``; a model_fn failing on one array is told to take a dict."""
  import tensorflow as tf

  existed = tf.io.gfile.exists(export_dir_base)
  try:
    path = estimator.export_saved_model(
      export_dir_base, receiver_fn, checkpoint_path=checkpoint_path
    )
  except (TypeError, KeyError, ValueError, AttributeError) as err:
    if not isinstance(arrays, np.ndarray) or isinstance(err, exceptions.TfestError):
      raise
    if not existed and tf.io.gfile.exists(export_dir_base):
      tf.io.gfile.rmtree(export_dir_base)  # TF's temp- directory of the failed export.
    raise exceptions.ArgumentTypeError(
      validation.message(
        'sample_features',
        'a dict of arrays (feature name -> values) or a pandas DataFrame for this model',
        arrays,
        'Its model_fn failed on one array (%s: %s): give sample_features as its input_fn '
        'gives features' % (type(err).__name__, err),
      )
    ) from err
  return path.decode() if isinstance(path, bytes) else path


def _check_export(estimator, loaded, path, arrays, checkpoint_path, parsed):
  """Compares the loaded export with Estimator.predict; removes it and raises if they differ."""
  import tensorflow as tf

  served = loaded.predict(arrays)
  expected = estimator_predictions(estimator, arrays, checkpoint_path)
  problems = compare_predictions(
    served, expected, *((_PARSED_RTOL, _PARSED_ATOL) if parsed else (_RTOL, _ATOL))
  )
  common = set(served) & set(expected)
  if not problems and common:
    return
  loaded.close()
  tf.io.gfile.rmtree(path)
  if not common:
    raise exceptions.ExportError(
      'The SavedModel exported to %s (removed) cannot be checked: its signature %r '
      "outputs %s, none of the Estimator's prediction keys %s. Add a PredictOutput "
      'of the predictions to export_outputs'
      % (path, loaded.signature_key, sorted(served), sorted(expected))
    )
  raise exceptions.ExportError(
    'The SavedModel exported to %s (removed) does not reproduce Estimator.predict on '
    'sample_features (checkpoint %s): %s'
    % (path, checkpoint_path, '; '.join('%r %s' % problem for problem in problems))
  )


def export_saved_model(
  estimator,
  export_dir_base,
  *,
  sample_features=None,
  feature_spec=None,
  parse_examples=False,
  checkpoint_path=None,
):
  """Exports ``estimator`` as a SavedModel, checked against ``Estimator.predict``.

  Example:

    export_dir = tfa.export_saved_model(estimator, 'runs/iris/export',
                                        sample_features=x_test[:3])
    tfa.Predictor.from_saved_model(export_dir)(x_test[:3])

  Args:
    estimator: a trained ``tf.estimator.Estimator``.
    export_dir_base: directory under which a timestamped export directory is created.
    sample_features: a batch of features (dict of arrays, DataFrame, or one array for a model
      fed one tensor; at least one row), as the input_fn gives them to the model: the raw
      receiver takes these dtypes and row shapes (batch dimension free), and the export is
      checked on them.
    feature_spec: a ``tf.io.parse_example`` spec, for a receiver of serialized
      ``tf.train.Example`` (key ``'examples'``). Without sample_features nothing can be
      compared: the export is only loaded back.
    parse_examples: with sample_features, build a tf.Example parsing receiver from them.
    checkpoint_path: the checkpoint to export: a checkpoint prefix (``model.ckpt-N``), or
      ``'best'`` for the best evaluated checkpoint that ``fit`` kept
      (``History.best_checkpoint``); default: the latest in model_dir.

  Returns:
    The export directory (str).

  Raises:
    ExportError: no checkpoint to export; the export cannot be loaded; or it does not
      reproduce ``Estimator.predict`` on the sample (the export is then removed).
    ArgumentError, ArgumentTypeError, ArgumentKeyError: bad arguments, before exporting.
  """
  path, loaded = export_and_load(
    estimator,
    export_dir_base,
    sample_features=sample_features,
    feature_spec=feature_spec,
    parse_examples=parse_examples,
    checkpoint_path=checkpoint_path,
  )
  loaded.close()
  return path
