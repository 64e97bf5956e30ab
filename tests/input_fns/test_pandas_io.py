"""pandas_input_fn against the real legacy tf.compat.v1.estimator.inputs.pandas_input_fn."""

import itertools
import random

import input_fn_helpers
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from tfest_adapters import exceptions
from tfest_adapters.input_fns import pandas_input_fn

LEGACY = tf.compat.v1.estimator.inputs.pandas_input_fn

N = 7
INDEX = np.arange(100, 100 + N)
# Columns deliberately not in sorted order: the legacy output keeps the DataFrame's order.
X = pd.DataFrame(
  {
    'z': np.arange(N, dtype=np.float32) / 2,
    'a': np.arange(N, dtype=np.int64) * 10,
    'm': np.arange(N) % 2 == 0,
    'b': np.arange(N, dtype=np.float64) - 3,
  },
  index=INDEX,
)
Y_SERIES = pd.Series(np.arange(N, dtype=np.int32) + 1, index=INDEX)
# 'a' is also a column of X: the legacy function renames it internally, the label keeps it.
Y_FRAME = pd.DataFrame({'t2': np.arange(N, dtype=np.float32), 'a': np.arange(N) - 50}, index=INDEX)
ENDLESS_BATCHES = 6


def run_legacy(builders, limit):
  with tf.Graph().as_default():
    outputs = [input_fn() for input_fn in builders]
    with tf.compat.v1.Session() as sess:
      coord = tf.train.Coordinator()
      threads = tf.compat.v1.train.start_queue_runners(sess, coord)
      batches = []
      for output in outputs:
        got = []
        try:
          while len(got) < limit:
            got.append(sess.run(output))
        except tf.errors.OutOfRangeError:
          pass
        batches.append(got)
      coord.request_stop()
      coord.join(threads, stop_grace_period_secs=10)
  return batches, outputs


def eager_batches(dataset, limit=100):
  return [tf.nest.map_structure(lambda t: t.numpy(), b) for b in dataset.take(limit)]


def graph_batches(input_fn, limit=100):
  with tf.Graph().as_default():
    element = tf.compat.v1.data.make_one_shot_iterator(input_fn()).get_next()
    got = []
    with tf.compat.v1.Session() as sess:
      try:
        while len(got) < limit:
          got.append(sess.run(element))
      except tf.errors.OutOfRangeError:
        pass
  return got


def assert_same_batches(expected, actual):
  assert len(actual) == len(expected)
  for want, got in zip(expected, actual):
    tf.nest.assert_same_structure(want, got)
    for w, g in zip(tf.nest.flatten(want), tf.nest.flatten(got)):
      assert g.dtype == w.dtype
      np.testing.assert_array_equal(g, w)
    if isinstance(want, tuple):
      assert list(got[0]) == list(want[0])
      if isinstance(want[1], dict):
        assert list(got[1]) == list(want[1])
    else:
      assert list(got) == list(want)


GRID = list(itertools.product(['none', 'series', 'frame'], [3, 7], [0, 1, 2, None]))


def _case(y_kind, batch_size, num_epochs):
  y = {'none': None, 'series': Y_SERIES, 'frame': Y_FRAME}[y_kind]
  return dict(x=X, y=y, batch_size=batch_size, num_epochs=num_epochs, shuffle=False)


@pytest.fixture(scope='module')
def legacy_runs():
  batches, tensors = run_legacy([LEGACY(**_case(*c)) for c in GRID], ENDLESS_BATCHES)
  return {g: (batches[i], tensors[i]) for i, g in enumerate(GRID)}


@pytest.mark.parametrize('y_kind,batch_size,num_epochs', GRID)
def test_same_batches_as_legacy(legacy_runs, y_kind, batch_size, num_epochs):
  legacy, legacy_tensors = legacy_runs[(y_kind, batch_size, num_epochs)]
  dataset = pandas_input_fn(**_case(y_kind, batch_size, num_epochs))()
  assert_same_batches(legacy, eager_batches(dataset, ENDLESS_BATCHES))
  for want, spec in zip(tf.nest.flatten(legacy_tensors), tf.nest.flatten(dataset.element_spec)):
    assert spec.shape.as_list() == want.shape.as_list()
    assert spec.dtype == want.dtype


def test_same_batches_in_a_graph(legacy_runs):
  legacy, _ = legacy_runs[('frame', 3, 2)]
  assert_same_batches(legacy, graph_batches(pandas_input_fn(**_case('frame', 3, 2))))


def test_dataframe_not_copied():
  input_fn = pandas_input_fn(X, Y_SERIES, shuffle=False)
  captured = dict(
    zip(input_fn.__code__.co_freevars, (cell.cell_contents for cell in input_fn.__closure__))
  )
  # The legacy function copies the whole DataFrame; the columns read here are views of it.
  store = captured['store']
  assert np.shares_memory(store.arrays[0], X['z'].to_numpy())
  input_fn()  # Reading in order copies nothing either: only in-place readers were made.
  assert list(store._components) == [False]
  assert not any(c.row_major for c in store._components[False])


# Errors.


def legacy_error(**kwargs):
  with tf.Graph().as_default():
    try:
      LEGACY(**kwargs)()
    except Exception as e:
      return e
  raise AssertionError('the legacy function accepted %r' % (kwargs,))


df = pd.DataFrame({'a': np.arange(4.0)})
SAME_TEXT = {
  'shuffle_missing': dict(x=df),
  'shuffle_not_bool': dict(x=df, shuffle='yes'),
  'target_column_not_str': dict(x=df, shuffle=False, target_column=1),
  'target_column_taken': dict(
    x=pd.DataFrame({'target': np.arange(4.0)}), y=pd.Series(np.arange(4)), shuffle=False
  ),
  'target_column_taken_y_frame': dict(
    x=pd.DataFrame({'target': np.arange(4.0)}), y=pd.DataFrame({'t': np.arange(4)}), shuffle=False
  ),
  'index_mismatch': dict(x=df, y=pd.Series(np.arange(4), index=[1, 2, 3, 4]), shuffle=False),
  'string_index': dict(x=pd.DataFrame({'a': [1.0, 2.0]}, index=['x', 'y']), shuffle=False),
  'nullable_int_label': dict(
    x=pd.DataFrame({'a': [1.0, 2.0]}),
    y=pd.Series(pd.array([1, None], dtype='Int64')),
    shuffle=False,
  ),
}


@pytest.mark.parametrize(
  'column', [['x', 'y'], pd.array(['x', 'y'], dtype='string'), pd.Categorical(['x', 'y'])]
)
def test_string_and_categorical_columns_taken_where_legacy_refused(column):
  x = pd.DataFrame({'a': column})
  assert isinstance(legacy_error(x=x, shuffle=False), TypeError)
  features = next(iter(pandas_input_fn(x, shuffle=False, batch_size=2)()))
  assert features['a'].numpy().tolist() == [b'x', b'y']


@pytest.mark.parametrize('name', sorted(SAME_TEXT))
def test_same_error_as_legacy(name):
  kwargs = SAME_TEXT[name]
  expected = legacy_error(**kwargs)
  with pytest.raises(type(expected)) as raised:
    pandas_input_fn(**kwargs)
  assert str(raised.value) == str(expected)


SAME_TYPE = {
  'x_dict': (
    dict(x={'a': np.arange(4.0)}, shuffle=False),
    r"x must be a pandas DataFrame, given: \{'a': array",
  ),
  'x_array': (
    dict(x=np.arange(4.0), shuffle=False),
    'x must be a pandas DataFrame, given: ndarray of shape',
  ),
  'x_none': (dict(x=None, shuffle=False), 'x must be a pandas DataFrame, given: None'),
  'y_array': (
    dict(x=df, y=np.arange(4), shuffle=False),
    'y must be a pandas Series or DataFrame, or None, given: ndarray',
  ),
  'y_list': (
    dict(x=df, y=[1, 2, 3, 4], shuffle=False),
    r'y must be a pandas Series or DataFrame, or None, given: \[1, 2, 3, 4\]',
  ),
  'no_rows': (
    dict(x=pd.DataFrame({'a': np.zeros(0)}), shuffle=False),
    'x must have at least one row, given: 0 rows',
  ),
}


@pytest.mark.parametrize('name', sorted(SAME_TYPE))
def test_same_error_type_as_legacy(name):
  kwargs, message = SAME_TYPE[name]
  expected = legacy_error(**kwargs)
  with pytest.raises(type(expected), match=message) as raised:
    pandas_input_fn(**kwargs)
  assert isinstance(raised.value, exceptions.TfestError)


@pytest.mark.parametrize(
  'kwargs,error,message',
  [
    (dict(batch_size=0), ValueError, 'batch_size must be a positive int, given: 0'),
    (dict(num_epochs=-1), ValueError, 'num_epochs must be None .* given: -1'),
    (dict(queue_capacity=0), ZeroDivisionError, 'queue_capacity must be a positive int'),
    (dict(num_threads=0), ValueError, 'num_threads must be a positive int, given: 0'),
    (dict(seed=-3), ValueError, 'seed must be None or a non-negative int, given: -3'),
  ],
)
def test_new_argument_errors(kwargs, error, message):
  with pytest.raises(error, match=message):
    pandas_input_fn(df, shuffle=True, **kwargs)


def test_duplicate_columns_refused():
  frame = pd.DataFrame(np.zeros((2, 2)), columns=['a', 'a'])
  with pytest.raises(ValueError, match='x must be a DataFrame with unique column names'):
    pandas_input_fn(frame, shuffle=False)


def test_queue_capacity_none_accepted():
  batches = eager_batches(pandas_input_fn(X, shuffle=False, queue_capacity=None)())
  assert len(batches) == 1


# Improvements.


def test_seed_full_permutation_and_random_untouched():
  frame = pd.DataFrame({'i': np.arange(10)})
  state = random.getstate()
  first = eager_batches(pandas_input_fn(frame, batch_size=5, num_epochs=2, shuffle=True, seed=3)())
  again = eager_batches(pandas_input_fn(frame, batch_size=5, num_epochs=2, shuffle=True, seed=3)())
  assert random.getstate() == state
  rows = np.concatenate([b['i'] for b in first]).tolist()
  assert rows == np.concatenate([b['i'] for b in again]).tolist()
  assert sorted(rows[:10]) == sorted(rows[10:]) == list(range(10))
  assert rows[:10] != rows[10:]


def test_estimator_train_evaluate_predict(small_data, boring_model_fn, tmp_path):
  features, labels = small_data
  frame = pd.DataFrame(features)
  label_series = pd.Series(labels)
  # Seeded: from some initial weights 20 steps leave the accuracy at 0.5.
  estimator = input_fn_helpers.seeded_estimator(boring_model_fn, tmp_path)
  estimator.train(
    pandas_input_fn(frame, label_series, batch_size=16, num_epochs=None, shuffle=True, seed=0),
    steps=20,
  )
  metrics = estimator.evaluate(pandas_input_fn(frame, label_series, shuffle=False))
  assert metrics['global_step'] == 20
  assert metrics['accuracy'] > 0.5
  predictions = list(estimator.predict(pandas_input_fn(frame, shuffle=False)))
  assert len(predictions) == 64


def test_docstring_example_runs(monkeypatch, capsys):
  out = input_fn_helpers.run_docstring_example(pandas_input_fn, monkeypatch, capsys)
  assert out.strip() == "['SepalLength', 'SepalWidth', 'PetalLength', 'PetalWidth'] (32,)"
