"""numpy_input_fn against the real legacy tf.compat.v1.estimator.inputs.numpy_input_fn."""

import itertools
import random

import input_fn_helpers
import numpy as np
import pytest
import tensorflow as tf

from tfest_adapters import exceptions
from tfest_adapters.input_fns import numpy_input_fn

LEGACY = tf.compat.v1.estimator.inputs.numpy_input_fn
ModeKeys = tf.estimator.ModeKeys

N = 6
X_ARRAY = np.arange(2 * N, dtype=np.float32).reshape(N, 2)
X_DICT = {
  'b': np.arange(N, dtype=np.int32) * 10,
  'a': np.arange(2 * N, dtype=np.float64).reshape(N, 2),
  'c': np.array([b'r%d' % i for i in range(N)]),
  'd': np.arange(N, dtype=np.float64) / 2,
}
Y_ARRAY = np.arange(N, dtype=np.int64) - 10
Y_DICT = {'y2': np.arange(N, dtype=np.float32), 'y1': np.arange(N, dtype=np.int64) + 100}
# Batches taken from an endless (num_epochs=None) pipeline: three epochs and a bit.
ENDLESS_BATCHES = 7


def run_pipelines(builders, limit, legacy):
  """Runs input_fns in one graph and session; returns (batches per builder, output tensors)."""
  with tf.Graph().as_default():
    outputs = []
    for input_fn in builders:
      result = input_fn()
      if not legacy:
        result = tf.compat.v1.data.make_one_shot_iterator(result).get_next()
      outputs.append(result)
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


def collect(input_fn, limit=100, **kwargs):
  """Batches of one of our input_fns, read with a one-shot iterator in a plain session."""
  with tf.Graph().as_default():
    element = tf.compat.v1.data.make_one_shot_iterator(input_fn(**kwargs)).get_next()
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
      want, got = want[0], got[0]
    if isinstance(want, dict):
      assert list(got) == list(want)  # Key order too.


GRID = list(
  itertools.product(['array', 'dict'], ['none', 'array', 'dict'], [3, 4], [0, 1, 2, None])
)


def _case(x_kind, y_kind, batch_size, num_epochs):
  x = X_ARRAY if x_kind == 'array' else X_DICT
  y = {'none': None, 'array': Y_ARRAY, 'dict': Y_DICT}[y_kind]
  return dict(x=x, y=y, batch_size=batch_size, num_epochs=num_epochs, shuffle=False)


@pytest.fixture(scope='module')
def legacy_runs():
  """Every grid case run by the legacy function, all in one graph and session."""
  cases = [_case(*c) for c in GRID]
  batches, tensors = run_pipelines([LEGACY(**c) for c in cases], ENDLESS_BATCHES, True)
  return {g: (batches[i], tensors[i]) for i, g in enumerate(GRID)}


@pytest.mark.parametrize('x_kind,y_kind,batch_size,num_epochs', GRID)
def test_same_batches_as_legacy(legacy_runs, x_kind, y_kind, batch_size, num_epochs):
  legacy, legacy_tensors = legacy_runs[(x_kind, y_kind, batch_size, num_epochs)]
  expected_rows = N * num_epochs if num_epochs is not None else batch_size * ENDLESS_BATCHES
  assert sum(len(tf.nest.flatten(b)[0]) for b in legacy) == expected_rows
  # Ours read eagerly here (building 48 graphs is slow); the graph path is tested below.
  dataset = numpy_input_fn(**_case(x_kind, y_kind, batch_size, num_epochs))()
  assert_same_batches(legacy, eager_batches(dataset, ENDLESS_BATCHES))
  # Same static shapes: [batch_size, ...] when every batch is full, [None, ...] otherwise.
  specs = tf.nest.flatten(dataset.element_spec)
  for want, spec in zip(tf.nest.flatten(legacy_tensors), specs):
    assert spec.shape.as_list() == want.shape.as_list()
    assert spec.dtype == want.dtype


@pytest.mark.parametrize(
  'x_kind,y_kind,batch_size,num_epochs', [('dict', 'dict', 4, 2), ('array', 'array', 3, None)]
)
def test_same_batches_in_a_graph_with_one_shot_iterator(
  legacy_runs, x_kind, y_kind, batch_size, num_epochs
):
  legacy, legacy_tensors = legacy_runs[(x_kind, y_kind, batch_size, num_epochs)]
  ours, our_tensors = run_pipelines(
    [numpy_input_fn(**_case(x_kind, y_kind, batch_size, num_epochs))], ENDLESS_BATCHES, legacy=False
  )
  assert_same_batches(legacy, ours[0])
  for want, got in zip(tf.nest.flatten(legacy_tensors), tf.nest.flatten(our_tensors[0])):
    assert got.shape.as_list() == want.shape.as_list()


def test_first_batches_continue_across_epochs():
  batches = collect(numpy_input_fn(X_ARRAY, batch_size=4, num_epochs=2, shuffle=False))
  rows = [b[:, 0].tolist() for b in batches]
  assert rows == [[0, 2, 4, 6], [8, 10, 0, 2], [4, 6, 8, 10]]


# Errors: the legacy type and text, for every input the legacy function rejects.


def legacy_error(**kwargs):
  """The exception the legacy function raises (when built, or when its input_fn is called)."""
  with tf.Graph().as_default():
    try:
      LEGACY(**kwargs)()
    except Exception as e:
      return e
  raise AssertionError('the legacy function accepted %r' % (kwargs,))


a4 = np.arange(4.0)
SAME_TEXT = {
  'shuffle_missing': dict(x={'a': a4}),
  'shuffle_not_bool': dict(x={'a': a4}, shuffle=1),
  'x_list': dict(x=[1, 2], shuffle=False),
  'x_dataframe_like': dict(x=(a4,), shuffle=False),
  'x_empty_dict': dict(x={}, shuffle=False),
  'x_empty_array': dict(x=np.zeros((0, 3)), shuffle=False),
  'y_empty_dict': dict(x=a4, y={}, shuffle=False),
  'duplicate_keys': dict(x={'a': a4, 'b': a4}, y={'a': a4, 'b': a4}, shuffle=False),
  'lengths_dict': dict(x={'a': a4, 'b': a4[:3]}, y=a4[:2], shuffle=False),
  'lengths_array': dict(x=a4, y=a4[:2], shuffle=False),
  'lengths_y_dict': dict(x=a4, y={'y': a4[:2]}, shuffle=False),
  'lengths_no_y': dict(x={'a': a4, 'b': a4[:1]}, shuffle=False),
  'mixed_key_types': dict(x={'a': a4, 1: a4}, shuffle=False),
  'unsupported_dtype': dict(
    x={'a': np.array(['2020-01-01'], dtype='datetime64[D]')}, shuffle=False
  ),
  'unsupported_y_dtype': dict(
    x={'a': a4}, y=np.array([1, 2, 3, 4], dtype='timedelta64[s]'), shuffle=False
  ),
}


@pytest.mark.parametrize('name', sorted(SAME_TEXT))
def test_same_error_as_legacy(name):
  kwargs = SAME_TEXT[name]
  expected = legacy_error(**kwargs)
  with pytest.raises(type(expected)) as raised:
    numpy_input_fn(**kwargs)
  assert str(raised.value) == str(expected)
  assert isinstance(raised.value, exceptions.TfestError) or isinstance(expected, TypeError)


# Where the legacy function crashed by accident: same built-in type, a clear message.
SAME_TYPE = {
  'list_value': (
    dict(x={'a': [1.0, 2.0]}, shuffle=False),
    r"x\['a'\] must be a numpy array, given: \[1.0, 2.0\] \(list\)",
  ),
  'list_y': (
    dict(x={'a': a4}, y=[1, 2, 3, 4], shuffle=False),
    r'y must be a numpy array, given: \[1, 2, 3, 4\] \(list\)',
  ),
  'scalar_value': (
    dict(x={'a': np.array(1.0)}, shuffle=False),
    r"x\['a'\] must be an array with a first \(rows\) dimension",
  ),
  'no_rows': (dict(x={'a': a4[:0]}, shuffle=False), 'x must have at least one row, given: 0 rows'),
  'queue_capacity_zero': (
    dict(x={'a': a4}, shuffle=False, queue_capacity=0),
    'queue_capacity must be a positive int, given: 0',
  ),
}


@pytest.mark.parametrize('name', sorted(SAME_TYPE))
def test_same_error_type_as_legacy(name):
  kwargs, message = SAME_TYPE[name]
  expected = legacy_error(**kwargs)
  with pytest.raises(type(expected), match=message) as raised:
    numpy_input_fn(**kwargs)
  assert isinstance(raised.value, exceptions.TfestError)


@pytest.mark.parametrize(
  'kwargs,error,message',
  [
    (dict(batch_size=0), ValueError, 'batch_size must be a positive int, given: 0'),
    (dict(batch_size=-2), ValueError, 'batch_size must be a positive int, given: -2'),
    (dict(batch_size=2.0), TypeError, 'batch_size must be a positive int, given: 2.0'),
    (dict(batch_size=None), ValueError, 'batch_size must be a positive int, given: None'),
    (dict(num_epochs=-1), ValueError, 'num_epochs must be None .* given: -1'),
    (dict(num_epochs=1.5), TypeError, 'num_epochs must be None .* given: 1.5'),
    (dict(queue_capacity=-1), ValueError, 'queue_capacity must be a positive int, given: -1'),
    (dict(queue_capacity=None), TypeError, 'queue_capacity must be a positive int'),
    (dict(num_threads=0), ValueError, 'num_threads must be a positive int, given: 0'),
    (dict(num_threads=2.0), TypeError, 'num_threads must be a positive int, given: 2.0'),
    (dict(seed=-1), ValueError, 'seed must be None or a non-negative int, given: -1'),
    (dict(seed='1'), TypeError, "seed must be None or a non-negative int, given: '1'"),
    (dict(seed=True), TypeError, 'seed must be None or a non-negative int, given: True'),
  ],
)
def test_new_argument_errors(kwargs, error, message):
  with pytest.raises(error, match=message) as raised:
    numpy_input_fn({'a': a4}, shuffle=True, **kwargs)
  assert isinstance(raised.value, exceptions.TfestError)


# Improvements.


def _rows(batches):
  return np.concatenate([b['i'] for b in batches]).tolist()


def test_seed_reproducible_and_full_permutation_per_epoch():
  x = {'i': np.arange(10)}
  first = _rows(collect(numpy_input_fn(x, batch_size=4, num_epochs=3, shuffle=True, seed=7)))
  again = _rows(collect(numpy_input_fn(x, batch_size=4, num_epochs=3, shuffle=True, seed=7)))
  other = _rows(collect(numpy_input_fn(x, batch_size=4, num_epochs=3, shuffle=True, seed=8)))
  assert first == again
  assert first != other
  epochs = [first[i : i + 10] for i in range(0, 30, 10)]
  for epoch in epochs:
    assert sorted(epoch) == list(range(10))
  assert epochs[0] != epochs[1] != epochs[2]
  assert epochs[0] != list(range(10))


def test_global_random_state_untouched():
  random.seed(1234)
  np.random.seed(1234)
  py_state, np_state = random.getstate(), np.random.get_state()
  input_fn = numpy_input_fn({'i': np.arange(10)}, batch_size=4, num_epochs=2, shuffle=True)
  collect(input_fn)
  collect(input_fn)
  assert random.getstate() == py_state
  np.testing.assert_array_equal(np.random.get_state()[1], np_state[1])


def test_num_threads_never_multiplies_epochs():
  for shuffle in (False, True):
    batches = collect(
      numpy_input_fn(
        {'i': np.arange(10)}, batch_size=3, num_epochs=1, shuffle=shuffle, num_threads=4
      )
    )
    assert sorted(_rows(batches)) == list(range(10))


def test_dataset_and_static_shapes():
  input_fn = numpy_input_fn(X_DICT, Y_ARRAY, batch_size=4, num_epochs=None, shuffle=True)
  with tf.Graph().as_default():
    dataset = input_fn()
    assert isinstance(dataset, tf.data.Dataset)
    features, labels = tf.compat.v1.data.make_one_shot_iterator(dataset).get_next()
    assert features['a'].shape.as_list() == [4, 2]
    assert features['c'].dtype == tf.string
    assert labels.shape.as_list() == [4]


def test_sharded_in_train_mode_only():
  x = {'i': np.arange(11)}
  input_fn = numpy_input_fn(x, batch_size=3, num_epochs=1, shuffle=True, seed=0)
  shards = []
  for index in range(3):
    context = tf.distribute.InputContext(num_input_pipelines=3, input_pipeline_id=index)
    shards.append(_rows(collect(input_fn, input_context=context)))
  assert sorted(sum(shards, [])) == list(range(11))
  assert all(set(a).isdisjoint(b) for a, b in itertools.combinations(shards, 2))
  config = tf.estimator.RunConfig()  # No TF_CONFIG: one worker.
  assert sorted(_rows(collect(input_fn, mode=ModeKeys.TRAIN, config=config))) == list(range(11))


def test_estimator_train_evaluate_predict(small_data, boring_model_fn, tmp_path):
  features, labels = small_data
  estimator = input_fn_helpers.seeded_estimator(boring_model_fn, tmp_path)
  estimator.train(
    numpy_input_fn(features, labels, batch_size=16, num_epochs=None, shuffle=True, seed=0), steps=20
  )
  metrics = estimator.evaluate(numpy_input_fn(features, labels, batch_size=16, shuffle=False))
  assert metrics['global_step'] == 20
  assert metrics['accuracy'] > 0.5
  predictions = list(estimator.predict(numpy_input_fn(features, batch_size=10, shuffle=False)))
  assert len(predictions) == 64
  assert predictions[0]['probabilities'].shape == (3,)


def test_docstring_example_runs(monkeypatch, capsys):
  out = input_fn_helpers.run_docstring_example(numpy_input_fn, monkeypatch, capsys)
  assert out.split('\n')[:2] == ['[0. 1.] [-32 -31]', '[2. 3.] [-30 -29]']


def test_numpy_integers_accepted():
  batches = collect(
    numpy_input_fn(
      {'i': np.arange(5)},
      batch_size=np.int64(2),
      num_epochs=np.int32(1),
      shuffle=False,
      queue_capacity=np.int64(10),
      num_threads=np.int8(1),
      seed=np.uint8(3),
    )
  )
  assert _rows(batches) == [0, 1, 2, 3, 4]


def test_successive_calls_read_on_and_stay_reproducible():
  # The Estimator calls the input_fn once per train(): a seeded input_fn must not replay the
  # same batches each time, yet the same sequence of calls must give the same data.
  def two_calls():
    input_fn = numpy_input_fn(
      {'i': np.arange(50)}, batch_size=10, num_epochs=1, shuffle=True, seed=11
    )
    return _rows(collect(input_fn)), _rows(collect(input_fn))

  first, second = two_calls()
  assert first != second
  assert two_calls() == (first, second)
