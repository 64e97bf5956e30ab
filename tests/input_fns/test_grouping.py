"""Groups of batches for steps_per_run: group_batches, group_dataset, make_group_dataset.

Eager iteration of the Datasets (the model side, the in-graph loop, is tested in
tests/models/test_steps_per_run.py, the format itself in tests/core/test_groups.py): shapes
and row counts of full and padded groups, the pass-through in EVAL and PREDICT, the same
batches as the batch-by-batch pipeline, and each refusal.
"""

import re

import input_fn_helpers
import numpy as np
import pytest
import tensorflow as tf

from tfest_adapters import exceptions
from tfest_adapters._core.groups import FEATURES_KEY
from tfest_adapters._core.groups import ROWS_KEY
from tfest_adapters.input_fns import _arrays
from tfest_adapters.input_fns import group_batches
from tfest_adapters.input_fns import numpy_input_fn
from tfest_adapters.input_fns._grouping import group_dataset
from tfest_adapters.input_fns._grouping import make_group_dataset

ModeKeys = tf.estimator.ModeKeys


def _numpy(structure):
  return tf.nest.map_structure(lambda t: t.numpy(), structure)


def _data(rows=10):
  x = {'a': np.arange(rows, dtype=np.float32), 'b': np.arange(rows, 2 * rows).astype(np.int64)}
  return x, np.arange(rows) % 3


def test_full_batches_are_stacked_with_a_static_batch_dimension():
  x, y = _data()
  groups = list(
    group_batches(numpy_input_fn(x, y, batch_size=2, num_epochs=None, shuffle=False), 3)(
      mode=ModeKeys.TRAIN
    ).take(2)
  )
  features, labels = groups[0]
  assert features['a'].shape == (3, 2) and labels.shape == (3, 2)
  assert features['a'].dtype == tf.float32 and features['b'].dtype == tf.int64
  np.testing.assert_array_equal(features['a'], [[0, 1], [2, 3], [4, 5]])
  np.testing.assert_array_equal(features[ROWS_KEY], [2, 2, 2])
  np.testing.assert_array_equal(groups[1][0]['a'], [[6, 7], [8, 9], [0, 1]])
  spec = group_batches(
    numpy_input_fn(x, y, batch_size=2, num_epochs=None, shuffle=False), 3
  )().element_spec
  assert spec[0]['a'].shape.as_list() == [None, 2]


def test_the_last_short_batch_is_zero_padded_and_counted():
  x, y = _data()
  groups = [
    _numpy(g)
    for g in group_batches(numpy_input_fn(x, y, batch_size=4, num_epochs=1, shuffle=False), 3)()
  ]
  assert [g[0][ROWS_KEY].tolist() for g in groups] == [[4, 4, 2]]
  features, labels = groups[0]
  np.testing.assert_array_equal(features['a'][2], [8, 9, 0, 0])
  np.testing.assert_array_equal(labels[2], [2, 0, 0, 0])
  spec = group_batches(numpy_input_fn(x, y, batch_size=4, shuffle=False), 2)().element_spec
  assert spec[0]['a'].shape.as_list() == [None, None]  # Not every batch is full.


def test_a_bare_features_tensor_is_carried_in_a_dict():
  x = np.arange(12, dtype=np.float32).reshape(6, 2)
  features = next(iter(group_batches(numpy_input_fn(x, batch_size=2, shuffle=False), 2)()))
  assert sorted(features) == sorted([FEATURES_KEY, ROWS_KEY])
  assert features[FEATURES_KEY].shape == (2, 2, 2)


def test_eval_and_predict_pass_the_batches_through():
  x, y = _data()
  base = numpy_input_fn(x, y, batch_size=4, shuffle=False)
  grouped = group_batches(base, 2)
  for mode in (ModeKeys.EVAL, ModeKeys.PREDICT):
    features, _ = next(iter(grouped(mode=mode)))
    assert ROWS_KEY not in features and features['a'].shape == (4,)


def test_only_the_arguments_the_input_fn_takes_are_passed_on():
  seen = {}

  def input_fn(params, config):
    seen.update(params=params, config=config)
    return tf.data.Dataset.from_tensor_slices({'x': np.zeros(4, np.float32)}).batch(2)

  grouped = group_batches(input_fn, 2)
  features = next(iter(grouped(mode=ModeKeys.TRAIN, params={'p': 1}, config='c')))
  assert seen == {'params': {'p': 1}, 'config': 'c'}
  assert features['x'].shape == (2, 2)
  assert grouped.steps_per_run == 2 and grouped.input_fn is input_fn


def test_by_default_the_estimators_params_say_how_many_batches_per_group():
  x, y = _data()
  grouped = group_batches(numpy_input_fn(x, y, batch_size=2, num_epochs=None, shuffle=False))
  features, _ = next(iter(grouped(mode=ModeKeys.TRAIN, params={'steps_per_run': 3})))
  assert features['a'].shape == (3, 2)
  for params in (None, {}, {'steps_per_run': None}, {'steps_per_run': 1}):
    features, _ = next(iter(grouped(mode=ModeKeys.TRAIN, params=params)))
    assert features['a'].shape == (2,)


def test_one_step_per_run_returns_the_input_fn_itself():
  input_fn = numpy_input_fn(*_data(), shuffle=False)
  assert group_batches(input_fn, 1) is input_fn


def test_docstring_example_runs(monkeypatch, capsys):
  out = input_fn_helpers.run_docstring_example(group_batches, monkeypatch, capsys)
  assert out.splitlines() == ['(3, 4) [4 4 2]']


@pytest.mark.parametrize('num_epochs, drop_remainder', [(None, False), (2, False), (1, True)])
def test_make_group_dataset_gives_the_batches_of_make_dataset(num_epochs, drop_remainder):
  rng = np.random.default_rng(0)
  columns = [
    rng.random(23).astype(np.float32),
    rng.integers(0, 9, 23),
    rng.random((23, 2, 3)).astype(np.float64),
    np.array(['r%d' % i for i in range(23)]),
    np.array(['o%d' % i for i in range(23)], dtype=object),
    np.arange(23) % 2 == 0,
  ]
  dtypes = [tf.float32, tf.int64, tf.float64, tf.string, tf.string, tf.bool]

  def rebuild(tensors):
    return dict(zip('abcdef', tensors[:-1])), tensors[-1]

  args = (columns, dtypes, rebuild, 5, num_epochs, True)
  kwargs = dict(seed=(4, 0), shard=(2, 1), drop_remainder=drop_remainder)
  native = make_group_dataset(*args, steps_per_run=3, **kwargs)
  wrapped = group_dataset(_arrays.make_dataset(*args, **kwargs), 3)
  assert native.element_spec == wrapped.element_spec
  native_groups = [_numpy(g) for g in native.take(5)]
  wrapped_groups = [_numpy(g) for g in wrapped.take(5)]
  assert len(native_groups) == len(wrapped_groups)
  for ours, theirs in zip(native_groups, wrapped_groups):
    tf.nest.map_structure(np.testing.assert_array_equal, ours, theirs)


def test_make_group_dataset_with_one_step_per_run_is_make_dataset():
  columns, dtypes = [np.arange(6, dtype=np.float32)], [tf.float32]
  dataset = make_group_dataset(columns, dtypes, lambda t: t[0], 4, 1, False, steps_per_run=1)
  assert [b.tolist() for b in _numpy(list(dataset))] == [[0, 1, 2, 3], [4, 5]]


def _batches(*components):
  element = components[0] if len(components) == 1 else components
  return lambda: tf.data.Dataset.from_tensor_slices(element).batch(2)


def test_an_input_fn_that_groups_by_itself_is_passed_through():
  grouped = group_batches(_batches({'x': np.zeros(8)}), 2)
  features = next(iter(group_batches(grouped, 3)()))
  assert features['x'].shape == (2, 2)


def _sparse_batches():
  sparse = tf.sparse.SparseTensor([[0, 0]], [1.0], [4, 3])
  return tf.data.Dataset.from_tensor_slices({'s': sparse}).batch(2)


def _batches_of_unknown_width():
  return (
    tf.data.Dataset.from_tensor_slices({'x': np.zeros((4, 3))})
    .batch(2)
    .map(lambda f: {'x': tf.compat.v1.placeholder_with_default(f['x'], [None, None])})
  )


def _unbatched_labels():
  return tf.data.Dataset.from_tensor_slices(({'x': np.zeros((4, 3))}, np.zeros(4)))


def _tensors():
  return {'x': tf.zeros([2])}, tf.zeros([2])


def _train(input_fn, **kwargs):
  return lambda: input_fn(mode=ModeKeys.TRAIN, **kwargs)


def _x_batches():
  return _batches({'x': np.zeros(4)})


@pytest.mark.parametrize(
  'call, error, message',
  [
    # When group_batches is called.
    *[
      pytest.param(
        lambda s=s: group_batches(_x_batches(), s),
        exceptions.ArgumentError,
        'steps_per_run must be a positive int, given: ',
        id='steps_per_run=%r' % (s,),
      )
      for s in (0, '2', True)
    ],
    pytest.param(
      lambda: group_batches('train.csv', 2),
      exceptions.ArgumentTypeError,
      'input_fn must be callable',
      id='input_fn not callable',
    ),
    # When the grouped input_fn is called in TRAIN.
    pytest.param(
      _train(group_batches(_x_batches()), params={'steps_per_run': 0}),
      exceptions.ArgumentError,
      re.escape('params["steps_per_run"] must be a positive int, given: 0'),
      id='params steps_per_run=0',
    ),
    pytest.param(
      _train(group_batches(_tensors, 2)),
      exceptions.ArgumentTypeError,
      re.escape('what input_fn returned in TRAIN must be a tf.data.Dataset of batches'),
      id='tensors, not a Dataset',
    ),
    pytest.param(
      group_batches(_sparse_batches, 2),
      exceptions.ArgumentTypeError,
      re.escape("features['s'] must be a dense Tensor to be grouped"),
      id='sparse',
    ),
    pytest.param(
      group_batches(_batches_of_unknown_width, 2),
      exceptions.ArgumentError,
      re.escape("features['x'] must be a batch whose dimensions after the first are known"),
      id='unknown shape after the batch',
    ),
    pytest.param(
      group_batches(_unbatched_labels, 2),
      exceptions.ArgumentError,
      re.escape('labels must be a batch [batch_size, ...] to be grouped'),
      id='unbatched labels',
    ),
    pytest.param(
      group_batches(_batches((np.zeros(4), np.zeros(4)), np.zeros(4)), 2),
      exceptions.ArgumentTypeError,
      'features must be a dict of Tensors or a Tensor',
      id='features a tuple',
    ),
    # group_dataset.
    pytest.param(
      lambda: group_dataset(group_dataset(_x_batches()(), 2), 2),
      exceptions.ArgumentError,
      'the input is already grouped',
      id='grouped twice',
    ),
  ],
)
def test_refusals(call, error, message):
  with pytest.raises(error, match=message):
    call()
