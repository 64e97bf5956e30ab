"""tensor_slices_input_fn: structures, modes, validation, a real Estimator."""

import input_fn_helpers
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from tfest_adapters import exceptions
from tfest_adapters.input_fns import tensor_slices_input_fn

ModeKeys = tf.estimator.ModeKeys

N = 10
FEATURES = {'z': np.arange(N, dtype=np.float32), 'a': np.arange(N, dtype=np.int64) * 10}
LABELS = np.arange(N, dtype=np.int32) % 3


def batches(input_fn, limit=100, **kwargs):
  dataset = input_fn(**kwargs)
  return [tf.nest.map_structure(lambda t: t.numpy(), b) for b in dataset.take(limit)]


def rows(got, key='z'):
  return np.concatenate([b[0][key] if isinstance(b, tuple) else b[key] for b in got]).tolist()


def test_train_mode_shuffles_and_repeats():
  input_fn = tensor_slices_input_fn(FEATURES, LABELS, batch_size=4, seed=0)
  got = batches(input_fn, limit=5, mode=ModeKeys.TRAIN)
  order = rows(got)
  assert len(order) == 20
  assert sorted(order[:10]) == sorted(order[10:]) == list(range(10))
  assert order[:10] != list(range(10))
  assert input_fn(mode=ModeKeys.TRAIN).element_spec[0]['z'].shape.as_list() == [4]


def test_no_mode_is_train_like_and_keeps_labels():
  got = batches(tensor_slices_input_fn(FEATURES, LABELS, batch_size=4, seed=0), limit=3)
  assert len(got) == 3
  assert isinstance(got[0], tuple)


def test_eval_mode_is_one_ordered_pass():
  got = batches(tensor_slices_input_fn(FEATURES, LABELS, batch_size=4, seed=0), mode=ModeKeys.EVAL)
  assert [len(b[1]) for b in got] == [4, 4, 2]
  assert rows(got) == list(range(10))
  np.testing.assert_array_equal(np.concatenate([b[1] for b in got]), LABELS)


def test_predict_mode_leaves_labels_out():
  got = batches(tensor_slices_input_fn(FEATURES, LABELS, batch_size=4), mode=ModeKeys.PREDICT)
  assert all(isinstance(b, dict) for b in got)
  assert rows(got) == list(range(10))


def test_key_order_and_dtypes_kept():
  ((features, labels),) = batches(
    tensor_slices_input_fn(FEATURES, LABELS, batch_size=N), mode=ModeKeys.EVAL
  )
  assert list(features) == ['z', 'a']
  assert features['a'].dtype == np.int64
  assert labels.dtype == np.int32


def test_dataframe_features_and_label_frames():
  frame = pd.DataFrame(
    {
      'q': np.arange(N, dtype=np.float64),
      'b': np.arange(N) % 2 == 0,
      's': ['w%d' % i for i in range(N)],
    }
  )
  label_frame = pd.DataFrame({'y2': LABELS, 'y1': LABELS.astype(np.float32)})
  ((features, labels),) = batches(
    tensor_slices_input_fn(frame, label_frame, batch_size=N), mode=ModeKeys.EVAL
  )
  assert list(features) == ['q', 'b', 's']
  assert features['s'][3] == b'w3'
  assert features['b'].dtype == np.bool_
  assert list(labels) == ['y2', 'y1']


def test_array_features_and_series_labels():
  x = np.arange(3 * N, dtype=np.float32).reshape(N, 3)
  ((features, labels),) = batches(
    tensor_slices_input_fn(x, pd.Series(LABELS), batch_size=N), mode=ModeKeys.EVAL
  )
  np.testing.assert_array_equal(features, x)
  np.testing.assert_array_equal(labels, LABELS)


def test_strings_and_nullable_columns():
  features = {
    'u': np.array(['é%d' % i for i in range(N)]),
    'o': np.array(['o%d' % i for i in range(N)], dtype=object),
    'n': pd.Series(pd.array(list(range(N)), dtype='Int64')),
  }
  (got,) = batches(tensor_slices_input_fn(features, batch_size=N), mode=ModeKeys.PREDICT)
  assert got['u'][1].decode('utf-8') == 'é1'  # UTF-8, as TensorFlow encodes str.
  assert got['o'][2] == b'o2'
  assert got['n'].dtype == np.int64


def test_drop_remainder_gives_static_batches():
  input_fn = tensor_slices_input_fn(
    FEATURES, LABELS, batch_size=4, num_epochs=1, drop_remainder=True
  )
  got = batches(input_fn)
  assert [len(b[1]) for b in got] == [4, 4]
  assert input_fn().element_spec[1].shape.as_list() == [4]
  assert input_fn(mode=ModeKeys.EVAL).element_spec[1].shape.as_list() == [None]


def test_num_epochs_in_train_mode():
  got = batches(
    tensor_slices_input_fn(FEATURES, LABELS, batch_size=3, num_epochs=2, shuffle=False),
    mode=ModeKeys.TRAIN,
  )
  assert rows(got) == list(range(10)) * 2


def test_graph_mode_one_shot_iterator():
  input_fn = tensor_slices_input_fn(FEATURES, LABELS, batch_size=4)
  with tf.Graph().as_default():
    features, labels = tf.compat.v1.data.make_one_shot_iterator(
      input_fn(mode=ModeKeys.EVAL)
    ).get_next()
    with tf.compat.v1.Session() as sess:
      got = [sess.run(features['z']) for _ in range(3)]
      with pytest.raises(tf.errors.OutOfRangeError):
        sess.run(labels)
  assert np.concatenate(got).tolist() == list(range(10))


@pytest.mark.parametrize(
  'args,kwargs,error,message',
  [
    (
      (None,),
      {},
      TypeError,
      'features must be a dict of arrays, a DataFrame or an array, given: None',
    ),
    (({},), {}, ValueError, r'features must be a non-empty dict of arrays, given: {} \(dict\)'),
    (
      ({'a': np.zeros(3)}, {}),
      {},
      ValueError,
      r'labels must be a non-empty dict of arrays, given: {} \(dict\). Pass None for no labels',
    ),
    (({1: np.zeros(3)},), {}, TypeError, 'features keys must be str, given: 1'),
    (
      ({'a': np.zeros(3)}, np.zeros(4)),
      {},
      ValueError,
      r'features and labels must have the same number of rows, given: '
      r"features\['a'\]: 3, labels: 4",
    ),
    (({'a': np.zeros(0)},), {}, ValueError, 'features must have at least one row'),
    (
      ({'a': np.float32(1)},),
      {},
      ValueError,
      r"features\['a'\] must be an array with a first \(rows\) dimension",
    ),
    (
      ({'a': np.array([1, 'x'], dtype=object)},),
      {},
      TypeError,
      r"features\['a'\] must be numeric, bool or string values.*Found 1 \(int\)",
    ),
    (
      ({'a': np.array(['2020-01-01'], dtype='datetime64[D]')},),
      {},
      TypeError,
      r"features\['a'\] must be numeric, bool or string values",
    ),
    (
      (pd.DataFrame({'c': pd.Categorical(['x', None])}),),
      {},
      ValueError,
      r"features\['c'\] must be values without missing entries.*add_categories",
    ),
    (
      (pd.DataFrame({'s': ['x', None]}),),
      {},
      ValueError,
      r"features\['s'\] must be values without missing entries.*fillna",
    ),
    (
      (pd.DataFrame({'n': pd.array([1, None], dtype='Int64')}),),
      {},
      ValueError,
      r"features\['n'\] must be values without missing entries",
    ),
    (
      (pd.DataFrame({0: [1.0, 2.0]}),),
      {},
      TypeError,
      r'features keys must be str, given: 0. Rename them',
    ),
    ((FEATURES,), dict(batch_size=0), ValueError, 'batch_size must be a positive int'),
    ((FEATURES,), dict(shuffle=None), TypeError, 'shuffle must be a bool, given: None'),
    ((FEATURES,), dict(num_epochs=-1), ValueError, 'num_epochs must be None'),
    ((FEATURES,), dict(seed=1.5), TypeError, 'seed must be None or a non-negative int'),
    ((FEATURES,), dict(drop_remainder=1), TypeError, 'drop_remainder must be a bool'),
  ],
)
def test_errors(args, kwargs, error, message):
  with pytest.raises(error, match=message) as raised:
    tensor_slices_input_fn(*args, **kwargs)
  assert isinstance(raised.value, exceptions.TfestError)


def test_estimator_train_evaluate_predict_with_one_input_fn(small_data, boring_model_fn, tmp_path):
  features, labels = small_data
  input_fn = tensor_slices_input_fn(features, labels, batch_size=16, seed=0)
  estimator = input_fn_helpers.seeded_estimator(boring_model_fn, tmp_path)
  estimator.train(input_fn, steps=20)
  metrics = estimator.evaluate(input_fn)  # Ends by itself: one pass.
  assert metrics['global_step'] == 20
  assert metrics['accuracy'] > 0.5
  predictions = list(estimator.predict(input_fn))
  assert len(predictions) == 64


def test_docstring_example_runs(monkeypatch, capsys):
  out = input_fn_helpers.run_docstring_example(tensor_slices_input_fn, monkeypatch, capsys)
  assert out.strip() == '[32, 32, 32, 4]'
