"""A model fed one array (not a dict): export, its receiver and the Predictor take the array.

Images ``[n, 8, 8, 1]`` through ``make_model_fn`` train from ``numpy_input_fn(x_array, y)``;
the export's receiver and the Predictor must take what that input_fn gave, an array.
"""

import numpy as np
import pytest
import tensorflow as tf

import tfest_adapters as tfa
from tfest_adapters import exceptions
from tfest_adapters import models
from tfest_adapters import serving

RNG = np.random.RandomState(0)
IMAGES = RNG.rand(48, 8, 8, 1).astype(np.float32)
LABELS = np.digitize(IMAGES.mean(axis=(1, 2, 3)), [0.48, 0.52]).astype(np.int64)
SAMPLE = IMAGES[:2]


def _network_fn(features, mode, logits_dimension):
  del mode
  x = tf.keras.layers.Conv2D(2, 3, activation='relu')(features)
  x = tf.keras.layers.Flatten()(x)
  return tf.keras.layers.Dense(logits_dimension)(x)


@pytest.fixture(scope='module')
def estimator(tmp_path_factory):
  model_fn = models.make_model_fn(_network_fn, 'multi_class', n_classes=3)
  est = tfa.make_estimator(model_fn, None, tmp_path_factory.mktemp('images') / 'm', seed=0)
  est.train(tfa.numpy_input_fn(IMAGES, LABELS, batch_size=16, num_epochs=2, shuffle=False))
  return est


@pytest.fixture(scope='module')
def expected(estimator):
  """Estimator.predict on every image, one batch."""
  input_fn = tfa.numpy_input_fn(IMAGES, batch_size=len(IMAGES), shuffle=False)
  return next(estimator.predict(input_fn, yield_single_examples=False))


def _assert_equal_to_estimator(predictor, expected):
  assert predictor.input_keys == ('input',)  # TF's name for a receiver's single tensor.
  served = predictor(IMAGES)
  assert set(served) >= {'class_ids', 'probabilities', 'logits'}
  for key in ('class_ids', 'probabilities', 'logits'):
    np.testing.assert_allclose(served[key], expected[key], rtol=1e-5, atol=1e-6, err_msg=key)
  one = predictor(IMAGES[0])  # One image, without its batch dimension.
  np.testing.assert_allclose(one['probabilities'], expected['probabilities'][0], rtol=1e-5)
  by_key = predictor({'input': IMAGES})  # The signature's own key works too.
  np.testing.assert_array_equal(by_key['class_ids'], served['class_ids'])


def test_export_then_predictor_from_the_export_dir(estimator, expected, tmp_path):
  path = tfa.export_saved_model(estimator, str(tmp_path / 'export'), sample_features=SAMPLE)
  with tfa.Predictor.from_saved_model(path) as predictor:
    assert predictor.input_spec == {'input': ('float32', (None, 8, 8, 1))}
    _assert_equal_to_estimator(predictor, expected)


def test_predictor_from_estimator(estimator, expected):
  with tfa.Predictor.from_estimator(estimator, SAMPLE) as predictor:
    _assert_equal_to_estimator(predictor, expected)


def test_estimators_own_export_with_the_receiver(estimator, expected, tmp_path):
  receiver_fn = serving.build_serving_input_receiver_fn(sample_features=SAMPLE)
  path = estimator.export_saved_model(str(tmp_path / 'export'), receiver_fn)
  with tfa.Predictor.from_saved_model(path.decode()) as predictor:
    _assert_equal_to_estimator(predictor, expected)


@pytest.mark.parametrize(
  'features, error, match',
  [
    (
      IMAGES[:2, :4],
      exceptions.ArgumentError,
      r"features\['input'\] must have shape \(n, 8, 8, 1\)",
    ),
    (
      IMAGES[:2].astype(str),
      exceptions.ArgumentError,
      r"features\['input'\] must be float32 \(or numbers that cast to it\), given dtype <U",
    ),
  ],
  ids=['wrong-shape', 'strings'],
)
def test_a_wrong_array_is_refused_naming_the_input(estimator, features, error, match):
  with tfa.Predictor.from_estimator(estimator, SAMPLE) as predictor:
    with pytest.raises(error, match=match):
      predictor(features)


def test_an_array_for_a_model_of_several_inputs_is_refused(tmp_path):
  """Which input would it be? The Predictor of a dict model says which keys it needs."""
  from conftest import boring_input_fn
  from conftest import boring_model_fn
  from conftest import small_arrays

  features, labels = small_arrays()
  est = tfa.make_estimator(boring_model_fn, {}, tmp_path / 'm', seed=0)
  est.train(boring_input_fn(features, labels), steps=2)
  with tfa.Predictor.from_estimator(est, {k: v[:2] for k, v in features.items()}) as predictor:
    with pytest.raises(
      exceptions.ArgumentTypeError,
      match=r'features must be a dict of arrays \(feature name -> values\) or a pandas '
      r"DataFrame \(an array only for a model of one input; this one takes 'f0', 'f1', 'f2', "
      r"'f3'\), given: ",
    ):
      predictor(np.zeros((2, 4), np.float32))


def test_parse_examples_needs_named_features():
  with pytest.raises(exceptions.ArgumentError, match='parse_examples needs named features'):
    serving.build_serving_input_receiver_fn(sample_features=SAMPLE, parse_examples=True)
