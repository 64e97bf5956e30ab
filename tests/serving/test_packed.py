"""Packed inputs: many numeric columns fed to the Predictor as one matrix, outputs unchanged.

Reference: the same SavedModel loaded as TF loads it (one placeholder per column), fed
column by column through ``session.run``.
"""

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import tfest_adapters as tfa
from tfest_adapters import exceptions
from tfest_adapters import models
from tfest_adapters.models import classifier_model_fn
from tfest_adapters.serving import _packed

COLUMNS = 12
KEYS = ['c%02d' % i for i in reversed(range(COLUMNS))]
RNG = np.random.default_rng(0)
FEATURES = {k: RNG.standard_normal(40).astype(np.float32) for k in KEYS}
LABELS = (FEATURES['c00'] + FEATURES['c05'] > 0).astype(np.int64)


def _concat_network(features, mode, logits_dimension):
  """Stacks the (n, 1) columns in KEYS' order (the templates stack sorted keys)."""
  del mode
  x = tf.concat([features[k] for k in KEYS], axis=1)
  return tf.keras.layers.Dense(logits_dimension)(tf.keras.layers.Dense(8, 'relu')(x))


def _export(tmp_path_factory, name, model_fn, features):
  params = dict(feature_keys=KEYS, hidden_units=[8], n_classes=2, learning_rate=0.1)
  if model_fn is not classifier_model_fn:
    params = None
  model_dir = tmp_path_factory.mktemp(name) / 'model'
  estimator = tfa.make_estimator(model_fn, params, model_dir, seed=0)
  estimator.train(tfa.numpy_input_fn(features, LABELS, batch_size=8, num_epochs=2, shuffle=False))
  sample = {k: v[:2] for k, v in features.items()}
  return tfa.export_saved_model(estimator, str(model_dir) + '_export', sample_features=sample)


@pytest.fixture(scope='module')
def rows_export(tmp_path_factory):
  """A template over 12 float32 columns of shape (n,): stacked by a Pack op, sorted."""
  return _export(tmp_path_factory, 'rows', classifier_model_fn, FEATURES)


@pytest.fixture(scope='module')
def column_export(tmp_path_factory):
  """The same columns of shape (n, 1), concatenated (ConcatV2) in KEYS' order by a network."""
  model_fn = models.make_model_fn(_concat_network, 'binary')
  return _export(
    tmp_path_factory, 'columns', model_fn, {k: v[:, None] for k, v in FEATURES.items()}
  )


def _as_tf_loads_it(export_dir, features):
  """The signature's outputs of ``features`` (already of the inputs' dtypes), fed per column."""
  graph = tf.Graph()
  with tf.compat.v1.Session(graph=graph) as session:
    meta = tf.compat.v1.saved_model.loader.load(session, ['serve'], export_dir)
    signature = meta.signature_def['predict']
    feeds = {signature.inputs[k].name: v for k, v in features.items()}
    fetches = {k: info.name for k, info in signature.outputs.items()}
    return session.run(fetches, feeds)


def _meta_graph(export_dir):
  from tensorflow.python.saved_model import loader_impl

  return loader_impl.SavedModelLoader(export_dir).get_meta_graph_def_from_tags(['serve'])


@pytest.mark.parametrize(
  'fixture, row_rank, op, order',
  [('rows_export', 1, 'Pack', sorted(KEYS)), ('column_export', 2, 'ConcatV2', KEYS)],
)
def test_the_columns_are_packed_in_the_order_the_model_stacks_them(
  request, fixture, row_rank, op, order
):
  meta = _meta_graph(request.getfixturevalue(fixture))
  signature = meta.signature_def['predict']
  inputs = [
    (k, tf.as_dtype(i.dtype), tf.TensorShape(i.tensor_shape), i.name)
    for k, i in sorted(signature.inputs.items())
  ]
  ((pack, names, stack_name),) = _packed.plan(inputs, meta.graph_def.node, [])
  assert pack.keys == order
  assert pack.row_rank == row_rank
  assert names == [signature.inputs[k].name for k in order]
  (node,) = [n for n in meta.graph_def.node if n.name + ':0' == stack_name]
  assert node.op == op


def test_a_call_feeds_one_matrix_whatever_the_number_of_columns(rows_export):
  with tfa.Predictor.from_saved_model(rows_export) as predictor:
    feeds, single = predictor._feeds({k: v[:5] for k, v in FEATURES.items()})
  assert not single
  assert len(feeds) == 1
  np.testing.assert_array_equal(feeds[0], np.stack([FEATURES[k][:5] for k in sorted(KEYS)], axis=1))


def test_no_pack_for_a_graph_already_holding_the_packed_name(rows_export):
  meta = _meta_graph(rows_export)
  signature = meta.signature_def['predict']
  inputs = [
    (k, tf.as_dtype(i.dtype), tf.TensorShape(i.tensor_shape), i.name)
    for k, i in sorted(signature.inputs.items())
  ]
  nodes = list(meta.graph_def.node) + [tf.compat.v1.NodeDef(name='tfest_adapters_packed_inputs_0')]
  assert _packed.plan(inputs, nodes, []) == []
  fetched = [signature.inputs[KEYS[0]].name]  # A signature echoing an input: left unpacked.
  ((pack, _, _),) = _packed.plan(inputs, meta.graph_def.node, fetched)
  assert KEYS[0] not in pack.keys and len(pack.keys) == COLUMNS - 1
  twice = inputs + [('alias', *inputs[0][1:])]  # Two keys of one placeholder: left unpacked.
  ((pack, _, _),) = _packed.plan(twice, meta.graph_def.node, [])
  assert inputs[0][0] not in pack.keys and 'alias' not in pack.keys


def _five(dtype=np.float32):
  return {k: v[:5].astype(dtype) for k, v in FEATURES.items()}


FRAME_ORDER = sorted(KEYS)[::3] + [k for k in sorted(KEYS) if k not in sorted(KEYS)[::3]]
FAST = {  # Read in one go (Pack.from_values / from_frame), or column by column.
  'dict': True,
  'dict of float64 (cast)': True,
  'dict of lists': False,
  'dict of mixed dtypes': False,
  'dict of Series': True,
  'DataFrame': True,
  'DataFrame, other column order': True,
  'DataFrame of float64, an extra column': True,
  'DataFrame, an extra string column': False,
}
CALLS = {
  'dict': lambda: _five(),
  'dict of float64 (cast)': lambda: _five(np.float64),
  'dict of lists': lambda: {k: v.tolist() for k, v in _five(np.float64).items()},
  'dict of mixed dtypes': lambda: {
    k: v.astype(np.int8 if k == 'c03' else np.float64) for k, v in _five().items()
  },
  'dict of Series': lambda: {k: pd.Series(v) for k, v in _five().items()},
  'DataFrame': lambda: pd.DataFrame(_five()),
  'DataFrame, other column order': lambda: pd.DataFrame(_five())[FRAME_ORDER],
  'DataFrame of float64, an extra column': lambda: pd.DataFrame(_five(np.float64)).assign(
    extra=1.0
  ),
  'DataFrame, an extra string column': lambda: pd.DataFrame(_five()).assign(name='a'),
}


@pytest.mark.parametrize('case', list(CALLS))
def test_outputs_are_tfs_fed_column_by_column(rows_export, case):
  features = CALLS[case]()
  expected = _as_tf_loads_it(
    rows_export, {k: np.asarray(features[k], dtype=np.float64).astype(np.float32) for k in KEYS}
  )
  with tfa.Predictor.from_saved_model(rows_export) as predictor:
    fast = predictor._packed_feeds(*predictor._container(features))
    served = predictor(features)
    chunked = predictor(features, batch_size=2)
  assert (fast is not None) == FAST[case]
  assert set(served) == set(expected)
  for key in expected:
    np.testing.assert_array_equal(served[key], expected[key], err_msg=key)
    if expected[key].dtype.kind == 'f':  # Chunks of 2 rows: MatMul may round otherwise.
      np.testing.assert_allclose(chunked[key], expected[key], rtol=1e-6, atol=1e-7, err_msg=key)
    else:
      np.testing.assert_array_equal(chunked[key], expected[key], err_msg=key)


ONE_EXAMPLE = {
  'rows_export, arrays': ('rows_export', lambda v: v[3].reshape(())),
  'rows_export, Python floats': ('rows_export', lambda v: float(v[3])),
  'rows_export, Python ints and floats': ('rows_export', lambda v: int(v[3] * 5) or float(v[3])),
  'column_export, arrays': ('column_export', lambda v: v[3].reshape((1,))),
}


@pytest.mark.parametrize('fixture, value', ONE_EXAMPLE.values(), ids=list(ONE_EXAMPLE))
def test_one_example_without_its_batch_dimension(request, fixture, value):
  export_dir = request.getfixturevalue(fixture)
  one = {k: value(v) for k, v in FEATURES.items()}
  expected = _as_tf_loads_it(
    export_dir, {k: np.asarray(v).astype(np.float32)[None] for k, v in one.items()}
  )
  with tfa.Predictor.from_saved_model(export_dir) as predictor:
    served = predictor(one)
  for key in expected:
    np.testing.assert_array_equal(served[key], expected[key][0], err_msg=key)


def test_column_shaped_inputs_from_a_dict(column_export):
  features = {k: v[:7, None] for k, v in FEATURES.items()}
  expected = _as_tf_loads_it(column_export, features)
  with tfa.Predictor.from_saved_model(column_export) as predictor:
    feeds, _ = predictor._feeds(features)
    served = predictor(features)
  np.testing.assert_array_equal(feeds[0], np.concatenate([features[k] for k in KEYS], axis=1))
  assert len(feeds) == 1
  for key in expected:
    np.testing.assert_array_equal(served[key], expected[key], err_msg=key)


def _without(key):
  return {k: v for k, v in _five().items() if k != key}


REFUSALS = {
  'missing key': (
    lambda: _without('c07'),
    exceptions.ArgumentKeyError,
    "features is missing 'c07'",
  ),
  'strings': (
    lambda: {**_five(), 'c02': np.array(['a'] * 5)},
    exceptions.ArgumentError,
    "features['c02'] must be float32 (or numbers that cast to it), given dtype <U1",
  ),
  'rows differ': (
    lambda: {**_five(), 'c04': np.zeros(3, np.float32)},
    exceptions.ArgumentError,
    "features must all have the same number of rows, given 5 for 'c00'",
  ),
  'one example among batches': (
    lambda: {**_five(), 'c09': np.float32(1.0)},
    exceptions.ArgumentError,
    'features mix single examples and batches',
  ),
}


@pytest.mark.parametrize('make, error, message', REFUSALS.values(), ids=list(REFUSALS))
def test_refusals_name_the_column(rows_export, make, error, message):
  with tfa.Predictor.from_saved_model(rows_export) as predictor:
    with pytest.raises(error) as raised:
      predictor(make())
  assert message in str(raised.value)


@pytest.mark.parametrize(
  'frame, read',
  [
    (pd.DataFrame({'a': np.float32([1, 2]), 'b': np.float32([3, 4])}), True),
    (pd.DataFrame({'a': np.float32([1, 2]), 'b': np.float32([3, 4]), 'c': [1, 2]}), True),
    (pd.DataFrame({'a': np.float32([1, 2]), 'b': np.int64([3, 4])}), False),
    (pd.DataFrame([[1.0, 2.0]], columns=['a', 'a']).astype(np.float32), False),
  ],
  ids=['one_dtype', 'extra_column', 'mixed', 'repeated_names'],
)
def test_frame_read_as_one_matrix_only_when_its_columns_cast_exactly(frame, read):
  packed = _packed.Pack(['a', 'b'], np.float32, 1).from_frame(frame)
  assert (packed is not None) == read
  if read:
    matrix, single = packed
    assert not single and matrix.dtype == np.float32
    np.testing.assert_array_equal(matrix, frame[['a', 'b']].to_numpy(np.float32))


def test_another_source_dtype_is_cast_in_one_go_only_from_a_single_one():
  """Mixed sources read as one float64 array would round an int64 twice; each column's cast once."""
  pack = _packed.Pack(['a', 'b'], np.float32, 1)
  big = np.array([2**60 + 2**36 + 1], np.int64)  # float32 of it: 2**60 + 2**37; via float64: 2**60.
  assert pack.from_values([big, np.array([0.5])]) is None  # Column by column instead.
  matrix, single = pack.from_values([big, big])
  assert not single
  np.testing.assert_array_equal(matrix, big.astype(np.float32)[:, None].repeat(2, axis=1))
  assert matrix[0, 0] != np.float32(np.float64(big[0]))
