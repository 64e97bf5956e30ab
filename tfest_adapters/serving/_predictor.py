"""Predictor: load a SavedModel once, then predict from dicts of arrays or DataFrames.

``Estimator.predict`` rebuilds the graph and restores the checkpoint at every call; a
Predictor loads the export once and feeds it (bench/predict_latency.py measures both).
"""

import shutil
import tempfile

from tfest_adapters.serving import _export
from tfest_adapters.serving import _session


class Predictor(_session.SavedModelSession):
  """A SavedModel loaded once, called with numpy arrays, DataFrames or lists.

  Example:

    predictor = tfa.Predictor.from_saved_model(export_dir)
    out = predictor({'SepalLength': [5.1], 'SepalWidth': [3.3],
                     'PetalLength': [1.7], 'PetalWidth': [0.5]})
    out['class_ids'], out['probabilities']       # numpy arrays, one row per input row

    predictor = tfa.Predictor.from_estimator(estimator, sample_features=x_test[:2])

  ``predict(features)`` (also ``predictor(features)``) takes a dict of arrays/lists (or a
  DataFrame) holding every input key of the signature (extra keys are ignored; a single
  example may drop the batch dimension), or one array for a model of one input (a model fed
  one array, exported from an array sample), and returns a dict of numpy arrays per output key,
  batch first, equal to ``Estimator.predict(..., yield_single_examples=False)``. A signature
  that parses serialized ``tf.train.Example`` also takes the raw features, and serializes them.

  Errors name the key, the expected and the given dtype or shape. A Predictor is safe to call
  from several threads; ``close()`` (or a ``with`` block) frees its session.
  """

  def __init__(self, export_dir, signature_key=None, session_config=None):
    """Loads ``export_dir`` (see :meth:`from_saved_model`)."""
    self._owned_dirs = []  # Removed by close(): the temporary export of from_estimator.
    super().__init__(export_dir, signature_key=signature_key, session_config=session_config)

  @classmethod
  def from_saved_model(cls, path, signature_key=None, session_config=None):
    """Loads a SavedModel.

    Args:
      path: the export directory, or an export base holding timestamped exports (the newest
        is loaded).
      signature_key: the signature to call; default ``'predict'`` when present (all the
        predictions), else ``'serving_default'``.
      session_config: a ``tf.compat.v1.ConfigProto`` for the session, or None.

    Returns:
      A Predictor.
    """
    return cls(path, signature_key=signature_key, session_config=session_config)

  @classmethod
  def from_estimator(
    cls,
    estimator,
    sample_features=None,
    *,
    feature_spec=None,
    parse_examples=False,
    checkpoint_path=None,
    export_dir_base=None,
  ):
    """Exports ``estimator`` (checked against Estimator.predict) and loads the export.

    Args:
      estimator: a trained ``tf.estimator.Estimator``.
      sample_features: a batch of features as the model's input_fn gives them (dtypes and
        row shapes of the serving inputs); see :func:`export_saved_model`.
      feature_spec, parse_examples: see :func:`export_saved_model`.
      checkpoint_path: the checkpoint to serve: a checkpoint prefix, or ``'best'`` for the
        best evaluated checkpoint that ``fit`` kept; default: the latest.
      export_dir_base: where to export; None for a temporary directory removed by
        ``close()``.

    Returns:
      A Predictor.
    """
    owned = None
    if export_dir_base is None:
      owned = tempfile.mkdtemp(prefix='tfest-predictor-')
      export_dir_base = owned
    try:
      _, predictor = _export.export_and_load(
        estimator,
        export_dir_base,
        sample_features=sample_features,
        feature_spec=feature_spec,
        parse_examples=parse_examples,
        checkpoint_path=checkpoint_path,
        load=cls,
      )
    except BaseException:
      if owned:
        shutil.rmtree(owned, ignore_errors=True)
      raise
    if owned:
      predictor._owned_dirs.append(owned)
    return predictor

  def close(self):
    """Closes the session (and removes the temporary export of from_estimator)."""
    super().close()
    while self._owned_dirs:
      shutil.rmtree(self._owned_dirs.pop(), ignore_errors=True)
