"""export_saved_model: receivers built from a sample or a spec, exports checked by loading."""

import os

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from conftest import boring_input_fn
from conftest import boring_model_fn
from conftest import small_arrays
import tfest_adapters as tfa
from tfest_adapters import exceptions
from tfest_adapters.serving import _export
from tfest_adapters.serving import _receivers

FEATURES, LABELS = small_arrays()
SAMPLE = {k: v[:3] for k, v in FEATURES.items()}


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  est = tfa.make_estimator(
    boring_model_fn, params={}, seed=0, model_dir=str(tmp_path_factory.mktemp('export') / 'm')
  )
  est.train(boring_input_fn(FEATURES, LABELS), steps=10)
  return est


def _signature(export_dir, key='serving_default'):
  return tf.saved_model.load(export_dir).signatures[key]


def test_raw_export_from_a_sample_dict(trained, tmp_path):
  path = tfa.export_saved_model(trained, tmp_path / 'export', sample_features=SAMPLE)
  assert os.path.dirname(path) == str(tmp_path / 'export')
  assert os.path.exists(os.path.join(path, 'saved_model.pb'))
  signature = _signature(path)
  inputs = signature.structured_input_signature[1]
  assert sorted(inputs) == ['f0', 'f1', 'f2', 'f3']
  assert all(
    spec.dtype == tf.float32 and spec.shape.as_list() == [None] for spec in inputs.values()
  )
  # The SavedModel itself, called by TF, gives what Estimator.predict gives.
  served = signature(**{k: tf.constant(v) for k, v in SAMPLE.items()})
  expected = _export.estimator_predictions(trained, SAMPLE)
  np.testing.assert_allclose(served['probabilities'].numpy(), expected['probabilities'], rtol=1e-6)


def test_raw_export_from_a_dataframe(trained, tmp_path):
  frame = pd.DataFrame(SAMPLE)
  path = tfa.export_saved_model(trained, tmp_path / 'export', sample_features=frame)
  assert sorted(_signature(path).structured_input_signature[1]) == ['f0', 'f1', 'f2', 'f3']


def test_parsing_export_from_a_sample(trained, tmp_path):
  sample = {k: v.astype(np.float64) for k, v in SAMPLE.items()}  # Parsed as float32, cast back.
  path = tfa.export_saved_model(
    trained, tmp_path / 'export', sample_features=sample, parse_examples=True
  )
  inputs = _signature(path).structured_input_signature[1]
  assert list(inputs) == ['examples'] and inputs['examples'].dtype == tf.string


def test_parsing_export_from_a_feature_spec(trained, tmp_path):
  spec = {k: tf.io.FixedLenFeature([], tf.float32) for k in SAMPLE}
  path = tfa.export_saved_model(trained, tmp_path / 'export', feature_spec=spec)
  serialized = _receivers.serialize_examples(SAMPLE, spec)
  served = _signature(path)(examples=tf.constant(list(serialized)))
  expected = _export.estimator_predictions(trained, SAMPLE)
  np.testing.assert_allclose(served['probabilities'].numpy(), expected['probabilities'], rtol=1e-6)


def test_export_of_a_chosen_checkpoint(trained, tmp_path):
  first = tf.train.get_checkpoint_state(trained.model_dir).all_model_checkpoint_paths[0]
  path = tfa.export_saved_model(
    trained, tmp_path / 'export', sample_features=SAMPLE, checkpoint_path=first
  )
  with tfa.Predictor.from_saved_model(path) as predictor:
    served = predictor(SAMPLE)
  np.testing.assert_allclose(
    served['logits'], _export.estimator_predictions(trained, SAMPLE, first)['logits'], rtol=1e-6
  )


def test_best_exports_and_serves_the_best_checkpoint_fit_kept(tmp_path):
  # fit evaluates step 10 (the best it saw), then plain training moves the latest on to 30.
  est = tfa.make_estimator(boring_model_fn, params={}, seed=0, model_dir=tmp_path / 'm')
  history = tfa.fit(
    est,
    boring_input_fn(FEATURES, LABELS),
    max_steps=10,
    eval_input_fn=boring_input_fn(FEATURES, LABELS, batch_size=32, repeat=False),
    eval_every_steps=10,
    progress=False,
  )
  est.train(boring_input_fn(FEATURES, LABELS), steps=20)
  best = _export.estimator_predictions(est, SAMPLE, history.best_checkpoint)['logits']
  latest = _export.estimator_predictions(est, SAMPLE)['logits']
  assert history.best_step == 10 and not np.allclose(best, latest)
  path = tfa.export_saved_model(
    est, tmp_path / 'export', sample_features=SAMPLE, checkpoint_path='best'
  )
  with tfa.Predictor.from_saved_model(path) as predictor:
    np.testing.assert_allclose(predictor(SAMPLE)['logits'], best, rtol=1e-6)
  with tfa.Predictor.from_estimator(est, SAMPLE, checkpoint_path='best') as predictor:
    np.testing.assert_allclose(predictor(SAMPLE)['logits'], best, rtol=1e-6)


def test_best_without_a_kept_best_checkpoint_is_a_clear_error(trained, tmp_path):
  with pytest.raises(
    exceptions.ExportError,
    match="checkpoint_path='best' needs the best checkpoint that fit keeps, but "
    '.*best_checkpoint holds none, given: .best.. Train with tfest_adapters.fit',
  ):
    tfa.export_saved_model(
      trained, tmp_path / 'export', sample_features=SAMPLE, checkpoint_path='best'
    )
  assert not (tmp_path / 'export').exists()


def test_export_before_any_checkpoint_is_a_clear_error(tmp_path):
  est = tfa.make_estimator(boring_model_fn, params={}, model_dir=tmp_path / 'm')
  with pytest.raises(
    exceptions.ExportError,
    match='Cannot export: no checkpoint in model_dir .*m, so the model has no '
    'trained weights to export. Train it first',
  ):
    tfa.export_saved_model(est, tmp_path / 'export', sample_features=SAMPLE)
  assert not (tmp_path / 'export').exists()


def _noisy_model_fn(features, labels, mode, params):
  """Predictions that differ on every run: an export cannot reproduce them."""
  spec = boring_model_fn(features, labels, mode, params)
  if mode != tf.estimator.ModeKeys.PREDICT:
    return spec
  noise = tf.random.uniform(tf.shape(features['f0']))
  predictions = dict(spec.predictions, noise=noise)
  return tf.estimator.EstimatorSpec(
    mode,
    predictions=predictions,
    export_outputs={'serving_default': tf.estimator.export.PredictOutput(predictions)},
  )


def test_an_export_that_does_not_reproduce_the_estimator_is_refused_and_removed(tmp_path):
  est = tfa.make_estimator(_noisy_model_fn, params={}, model_dir=tmp_path / 'm')
  est.train(boring_input_fn(FEATURES, LABELS), steps=1)
  with pytest.raises(
    exceptions.ExportError,
    match=r'The SavedModel exported to .* \(removed\) does not reproduce '
    r"Estimator.predict on sample_features .*'noise' differs by up to",
  ):
    tfa.export_saved_model(est, tmp_path / 'export', sample_features=SAMPLE)
  assert os.listdir(tmp_path / 'export') == []


@pytest.mark.parametrize(
  'kwargs, error, match',
  [
    (
      dict(),
      exceptions.ArgumentError,
      'exactly one of sample_features and feature_spec must be given, given: neither',
    ),
    (
      dict(sample_features=SAMPLE, feature_spec={}),
      exceptions.ArgumentError,
      'exactly one of sample_features and feature_spec must be given, given: both',
    ),
    (
      dict(sample_features=[1, 2]),
      exceptions.ArgumentTypeError,
      'sample_features must be a dict of arrays',
    ),
    (
      dict(sample_features={'f0': np.zeros(3), 'f1': np.zeros(2)}),
      exceptions.ArgumentError,
      "sample_features must be features with the same number of rows, given: 'f0: 3, f1: 2'",
    ),
    (
      dict(sample_features={'f0': np.zeros(0)}),
      exceptions.ArgumentError,
      'sample_features must be at least one row',
    ),
    (
      dict(sample_features={'f0': 1.0}),
      exceptions.ArgumentError,
      r"sample_features\['f0'\] must be a batch",
    ),
    (
      dict(sample_features={'f0': np.array([{}, {}], dtype=object)}),
      exceptions.ArgumentError,
      r"sample_features\['f0'\] must be numbers, bools or strings.*It holds dict",
    ),
    (
      dict(feature_spec={'f0': 'float'}),
      exceptions.ArgumentTypeError,
      r"feature_spec\['f0'\] must be a tf.io.FixedLenFeature",
    ),
    (
      dict(sample_features=SAMPLE, parse_examples=1),
      exceptions.ArgumentTypeError,
      'parse_examples must be a bool',
    ),
  ],
)
def test_bad_receiver_arguments(trained, tmp_path, kwargs, error, match):
  with pytest.raises(error, match=match):
    tfa.export_saved_model(trained, tmp_path / 'export', **kwargs)
  assert not (tmp_path / 'export').exists()


def test_compare_predictions_reports_each_difference():
  problems = _export.compare_predictions(
    {'a': np.array([1.0, 2.0]), 'b': np.array([1, 2]), 'c': np.zeros(2), 'only': 1},
    {'a': np.array([1.0, 2.5]), 'b': np.array([1, 3]), 'c': np.zeros(3)},
  )
  assert problems == [
    ('a', 'differs by up to 0.5'),
    ('b', '1 of 2 values differ'),
    ('c', 'shape (2,), Estimator.predict gives (3,)'),
  ]
