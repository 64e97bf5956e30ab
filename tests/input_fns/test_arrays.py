"""The in-memory pipeline (input_fns/_arrays.py): packing, and no arrays in the graph."""

import os

import numpy as np
import pytest
import tensorflow as tf

from tfest_adapters.input_fns import _arrays
from tfest_adapters.input_fns import numpy_input_fn
from tfest_adapters.input_fns import tensor_slices_input_fn

ModeKeys = tf.estimator.ModeKeys


def test_columns_of_every_kind_round_trip_exactly():
  n = 9
  rng = np.random.default_rng(0)
  arrays = [
    rng.normal(size=n).astype(np.float32),
    rng.normal(size=(n, 1)).astype(np.float32),
    rng.normal(size=(n, 2, 3)).astype(np.float32),
    rng.integers(0, 255, size=n).astype(np.uint8),
    rng.integers(0, 9, size=(n, 2)).astype(np.int64),
    rng.integers(0, 9, size=n).astype(np.int64),
    rng.normal(size=n) > 0,
    (rng.normal(size=n) + 1j).astype(np.complex64),
    rng.normal(size=n).astype(np.float16),
    np.array(['s%d' % i for i in range(n)]),
    np.zeros((n, 0), np.float32),
  ]
  dtypes = [tf.string if a.dtype.kind == 'U' else tf.as_dtype(a.dtype) for a in arrays]
  components = _arrays._components(arrays, dtypes)
  # float32 columns share one matrix, int64 columns another.
  assert len(components) == len(arrays) - 3
  dataset = _arrays.make_dataset(arrays, dtypes, tuple, batch_size=4, num_epochs=1, shuffle=False)
  batches = list(dataset)
  assert [len(b[0]) for b in batches] == [4, 4, 1]
  for i, array in enumerate(arrays):
    got = np.concatenate([b[i].numpy() for b in batches])
    if array.dtype.kind == 'U':
      got = got.astype(str)
    assert got.shape == array.shape
    np.testing.assert_array_equal(got, array)
    assert batches[0][i].shape.as_list()[1:] == list(array.shape[1:])


def _shuffled_rows(arrays, dtypes, seed=3):
  dataset = _arrays.make_dataset(
    arrays, dtypes, tuple, batch_size=4, num_epochs=2, shuffle=True, seed=seed
  )
  return [tuple(t.numpy() for t in batch) for batch in dataset]


def test_shuffled_reading_from_a_row_major_copy_gives_the_same_batches(monkeypatch):
  n = 11
  rng = np.random.default_rng(1)
  arrays = [
    rng.normal(size=n).astype(np.float32),
    rng.normal(size=(n, 2)).astype(np.float32),
    rng.integers(0, 9, size=n).astype(np.int64),
    rng.integers(0, 9, size=n).astype(np.int64),
  ]
  dtypes = [tf.as_dtype(a.dtype) for a in arrays]
  store = _arrays.ColumnStore(arrays, dtypes)
  copied = store.components(row_major=True)
  assert [c.row_major for c in copied] == [True, True]
  assert store.components(row_major=True) is copied  # Made once per store.
  assert not any(c.row_major for c in store.components(row_major=False))
  monkeypatch.setattr(_arrays, 'ROW_MAJOR_MAX_BYTES', 0)
  in_place = _arrays.ColumnStore(arrays, dtypes).components(row_major=True)
  assert not any(c.row_major for c in in_place)
  got_copied = _shuffled_rows(store, None)
  got_in_place = _shuffled_rows(arrays, dtypes)
  assert len(got_copied) == len(got_in_place) == 6
  for a, b in zip(got_copied, got_in_place):
    for x, y in zip(a, b):
      np.testing.assert_array_equal(x, y)
  # Every row once per epoch (batches run on across epochs), whole: the first column
  # identifies the row.
  first_epoch = np.concatenate([b[0] for b in got_copied])[:n]
  np.testing.assert_array_equal(np.sort(first_epoch), np.sort(arrays[0]))
  rows = {float(a): i for i, a in enumerate(arrays[0])}
  for batch in got_copied:
    for j, value in enumerate(batch[0]):
      i = rows[float(value)]
      np.testing.assert_array_equal(batch[1][j], arrays[1][i])
      assert (batch[2][j], batch[3][j]) == (arrays[2][i], arrays[3][i])


def test_big_columns_are_read_in_place(monkeypatch):
  arrays = [np.arange(10, dtype=np.float32), np.arange(10, dtype=np.float32)]
  dtypes = [tf.float32, tf.float32]
  monkeypatch.setattr(_arrays, 'ROW_MAJOR_MAX_BYTES', 79)  # 10 rows x 2 x 4 bytes = 80.
  assert not _arrays.ColumnStore(arrays, dtypes).components(row_major=True)[0].row_major
  monkeypatch.setattr(_arrays, 'ROW_MAJOR_MAX_BYTES', 80)
  assert _arrays.ColumnStore(arrays, dtypes).components(row_major=True)[0].row_major


def _dir_size(path):
  return sum(
    os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(path) for f in files
  )


def _biggest_constant(graph_def):
  sizes = [n.ByteSize() for n in graph_def.node if n.op == 'Const']
  for function in graph_def.library.function:
    sizes += [n.ByteSize() for n in function.node_def if n.op == 'Const']
  return max(sizes)


@pytest.mark.parametrize('builder', ['numpy', 'tensor_slices'])
def test_large_arrays_never_enter_the_graph(builder, boring_model_fn, tmp_path):
  rows = 2_500_000  # 4 float32 columns: 40 MB of features.
  rng = np.random.default_rng(0)
  features = {'f%d' % i: rng.random(rows, dtype=np.float32) for i in range(4)}
  labels = (features['f0'] * 3).astype(np.int64)
  if builder == 'numpy':
    input_fn = numpy_input_fn(
      features, labels, batch_size=32, num_epochs=None, shuffle=True, seed=0
    )
  else:
    input_fn = tensor_slices_input_fn(features, labels, batch_size=32, seed=0)
  with tf.Graph().as_default() as graph:
    tf.compat.v1.data.make_one_shot_iterator(input_fn(mode=ModeKeys.TRAIN)).get_next()
    assert _biggest_constant(graph.as_graph_def()) < 1024
  estimator = tf.estimator.Estimator(boring_model_fn, str(tmp_path), params={})
  estimator.train(input_fn, steps=3)
  assert estimator.evaluate(input_fn, steps=2)['global_step'] == 3
  files = os.listdir(str(tmp_path))
  assert os.path.getsize(str(tmp_path / 'graph.pbtxt')) < 500_000
  metas = [f for f in files if f.endswith('.meta')]
  assert metas and all(os.path.getsize(str(tmp_path / f)) < 500_000 for f in metas)
  assert _dir_size(str(tmp_path)) < 5_000_000
