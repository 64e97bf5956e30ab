"""SavedModelSession's feeding: the callable of CallableOptions gives session.run's outputs."""

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import tfest_adapters as tfa
from tfest_adapters import exceptions
from tfest_adapters.input_fns import numpy_input_fn
from tfest_adapters.models import classifier_model_fn

ROWS = 7


def _wide_arrays(n_columns, rows=64):
  rng = np.random.default_rng(n_columns)
  return {'x%03d' % i: rng.standard_normal(rows).astype(np.float32) for i in range(n_columns)}


def _mixed_model_fn(features, labels, mode, params):
  """float32, int64 and string inputs; a string output, an input echoed, a tensor twice."""
  del params
  s = features['s']
  lengths = tf.cast(tf.strings.length(s), tf.float32)
  x = tf.stack([features['a'], tf.cast(features['n'], tf.float32), lengths], axis=1)
  y = tf.compat.v1.layers.dense(x, 2, name='out')
  predictions = {'y': y, 'y_again': y, 'echo': features['n'], 'upper': tf.strings.upper(s)}
  # Predict.
  if mode == tf.estimator.ModeKeys.PREDICT:
    return tf.estimator.EstimatorSpec(mode, predictions=predictions)
  loss = tf.reduce_mean(tf.square(y - tf.cast(labels, tf.float32)[:, None]))
  # Eval.
  if mode == tf.estimator.ModeKeys.EVAL:
    return tf.estimator.EstimatorSpec(mode, loss=loss)
  # Train.
  optimizer = tf.compat.v1.train.GradientDescentOptimizer(0.1)
  train_op = optimizer.minimize(loss, global_step=tf.compat.v1.train.get_global_step())
  return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)


MIXED = {
  'a': np.linspace(-1, 1, ROWS).astype(np.float32),
  'n': np.arange(ROWS, dtype=np.int64),
  's': np.array(['', 'a', 'bb', 'ccc', 'dé', 'e', 'ff'], dtype=object),
}


@pytest.fixture(scope='module')
def wide_exports(tmp_path_factory):
  """{n_columns: export_dir} of a classifier over 30 and 300 float32 columns."""
  exports = {}
  for n in (30, 300):
    base = tmp_path_factory.mktemp('wide%d' % n)
    features = _wide_arrays(n)
    labels = (features['x000'] > 0).astype(np.int64)
    params = dict(feature_keys=sorted(features), hidden_units=[8], n_classes=2)
    est = tfa.make_estimator(classifier_model_fn, params, str(base / 'm'), seed=0)
    est.train(numpy_input_fn(features, labels, batch_size=16, num_epochs=1, shuffle=False))
    sample = {k: v[:2] for k, v in features.items()}
    exports[n] = tfa.export_saved_model(est, str(base / 'export'), sample_features=sample)
  return exports


@pytest.fixture(scope='module')
def mixed_export(tmp_path_factory):
  base = tmp_path_factory.mktemp('mixed')
  est = tfa.make_estimator(_mixed_model_fn, params={}, model_dir=str(base / 'm'), seed=0)
  labels = np.arange(ROWS) % 2

  def input_fn():
    return tf.data.Dataset.from_tensor_slices((MIXED, labels)).batch(4)

  est.train(input_fn, steps=2)
  return tfa.export_saved_model(est, str(base / 'export'), sample_features=MIXED)


def _session_run(export_dir, features):
  """The outputs of TF's session.run fed ``features`` by tensor (what make_callable does)."""
  graph = tf.Graph()
  with tf.compat.v1.Session(graph=graph) as session:
    meta = tf.compat.v1.saved_model.loader.load(session, ['serve'], export_dir)
    signature = meta.signature_def['serving_default']
    get = graph.get_tensor_by_name
    feed = {get(info.name): np.asarray(features[k]) for k, info in signature.inputs.items()}
    fetch = {k: get(info.name) for k, info in signature.outputs.items()}
    return session.run(fetch, feed)


def _assert_identical(served, expected):
  assert sorted(served) == sorted(expected)
  for key, value in expected.items():
    assert served[key].dtype == value.dtype, key
    np.testing.assert_array_equal(served[key], value, err_msg=key)


@pytest.mark.parametrize('n_columns', [30, 300])
@pytest.mark.parametrize(
  'make',
  [
    pytest.param(lambda rows: rows, id='dict'),
    pytest.param(lambda rows: {k: v.tolist() for k, v in rows.items()}, id='lists'),
    pytest.param(pd.DataFrame, id='frame'),
    pytest.param(lambda rows: pd.DataFrame(rows).astype(np.float64), id='frame_float64'),
    pytest.param(lambda rows: pd.DataFrame(dict(rows, label=np.arange(ROWS))), id='frame_extra'),
    pytest.param(lambda rows: pd.DataFrame(rows).iloc[:, ::-1], id='frame_reordered'),
  ],
)
def test_outputs_equal_session_run(wide_exports, n_columns, make):
  rows = {k: v[:ROWS] for k, v in _wide_arrays(n_columns).items()}
  with tfa.Predictor.from_saved_model(wide_exports[n_columns]) as predictor:
    served = predictor(make(rows))
  expected = _session_run(wide_exports[n_columns], rows)
  _assert_identical(served, expected)
  assert served['probabilities'].shape == (ROWS, 2)


def test_one_row_without_batch_dimension_equals_session_run(wide_exports):
  row = {k: v[0] for k, v in _wide_arrays(30).items()}
  with tfa.Predictor.from_saved_model(wide_exports[30]) as predictor:
    served = predictor(row)
  expected = _session_run(wide_exports[30], {k: v[None] for k, v in row.items()})
  _assert_identical(served, {k: v[0] for k, v in expected.items()})


@pytest.mark.parametrize('make', [dict, pd.DataFrame], ids=['dict', 'frame'])
def test_mixed_dtypes_strings_and_a_tensor_under_two_keys(mixed_export, make):
  with tfa.Predictor.from_saved_model(mixed_export) as predictor:
    served = predictor(make(MIXED))
  expected = _session_run(mixed_export, MIXED)
  _assert_identical(served, expected)
  assert served['upper'].tolist() == [s.encode().upper() for s in MIXED['s']]  # ASCII only, as TF.
  np.testing.assert_array_equal(served['echo'], MIXED['n'])
  np.testing.assert_array_equal(served['y_again'], served['y'])


@pytest.mark.parametrize(
  'change, error, match',
  [
    (
      lambda f: f.drop(columns=['n']),
      exceptions.ArgumentKeyError,
      "features is missing 'n'; the model expects keys: 'a', 'n', 's'; given keys: 'a', 's'",
    ),
    (
      lambda f: f.assign(a=['x'] * ROWS),
      exceptions.ArgumentError,
      r"features\['a'\] must be float32 \(or numbers that cast to it\), given dtype ",
    ),
    (
      lambda f: f.assign(n=np.linspace(0, 1, ROWS)),
      exceptions.ArgumentError,
      r"features\['n'\] must be int64 \(or numbers that cast to it\), given dtype float64",
    ),
    (
      lambda f: f.assign(s=np.arange(ROWS)),
      exceptions.ArgumentError,
      r"features\['s'\] must be strings, given dtype int64",
    ),
  ],
)
def test_bad_frames_are_refused_as_dicts_are(mixed_export, change, error, match):
  frame = change(pd.DataFrame(MIXED))
  with tfa.Predictor.from_saved_model(mixed_export) as predictor:
    with pytest.raises(error, match=match):
      predictor(frame)
    with pytest.raises(error, match=match):
      predictor({k: frame[k].to_numpy() for k in frame.columns})
