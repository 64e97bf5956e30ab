"""CSV and TFRecord input_fns, write_tfrecords: round trips, modes, sharding, errors."""

import itertools
import json
import os

import input_fn_helpers
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from tfest_adapters import exceptions
from tfest_adapters.input_fns import csv_input_fn
from tfest_adapters.input_fns import tfrecord_input_fn
from tfest_adapters.input_fns import write_tfrecords

ModeKeys = tf.estimator.ModeKeys
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IRIS_TRAIN = os.path.join(REPO, 'data', 'iris_training.csv')
IRIS_TEST = os.path.join(REPO, 'data', 'iris_test.csv')


def batches(dataset):
  return [tf.nest.map_structure(lambda t: t.numpy(), b) for b in dataset]


def concat(got, key=None):
  parts = (
    [b[0][key] if key else b[1] for b in got]
    if isinstance(got[0], tuple)
    else [b[key] for b in got]
  )
  return np.concatenate(parts)


@pytest.fixture(scope='module')
def table():
  n = 40
  rng = np.random.default_rng(0)
  return pd.DataFrame(
    {
      'x': rng.normal(size=n).astype(np.float32),
      'k': np.arange(n, dtype=np.int64),
      'name': ['row%d' % i for i in range(n)],
      'label': rng.integers(0, 3, size=n),
    }
  )


@pytest.fixture(scope='module')
def csv_files(table, tmp_path_factory):
  directory = tmp_path_factory.mktemp('csv')
  for i, part in enumerate(np.array_split(np.arange(len(table)), 4)):
    table.iloc[part].to_csv(str(directory / ('part-%d.csv' % i)), index=False)
  return str(directory / 'part-*.csv')


# CSV.


def test_csv_eval_is_the_file_rows_in_order(table, csv_files):
  input_fn = csv_input_fn(csv_files, 'label', batch_size=16)
  got = batches(input_fn(mode=ModeKeys.EVAL))
  assert list(got[0][0]) == ['x', 'k', 'name']
  np.testing.assert_array_equal(concat(got, 'k'), table['k'])
  np.testing.assert_allclose(concat(got, 'x'), table['x'], rtol=1e-6)
  assert concat(got, 'name')[5] == b'row5'
  np.testing.assert_array_equal(concat(got), table['label'])
  # Inferred types: int32 for small ints, float32, string.
  assert got[0][0]['k'].dtype == np.int32 and got[0][0]['x'].dtype == np.float32


def test_csv_predict_has_no_labels_and_train_shuffles(table, csv_files):
  input_fn = csv_input_fn(csv_files, 'label', batch_size=16, seed=0, num_epochs=2)
  predicted = batches(input_fn(mode=ModeKeys.PREDICT))
  assert all(isinstance(b, dict) and 'label' not in b for b in predicted)
  trained = batches(input_fn(mode=ModeKeys.TRAIN))
  keys = concat(trained, 'k').tolist()
  assert sorted(keys) == sorted(list(range(40)) * 2)
  assert keys[:40] != list(range(40))


def test_csv_endless_train_has_static_batches(csv_files):
  dataset = csv_input_fn(csv_files, 'label', batch_size=16)(mode=ModeKeys.TRAIN)
  assert dataset.element_spec[1].shape.as_list() == [16]


def test_csv_names_defaults_and_selection(tmp_path):
  path = str(tmp_path / 'raw.csv')
  with open(path, 'w') as f:
    f.write('1,,a\n2,2.5,b\n')
  input_fn = csv_input_fn(
    path,
    'y',
    column_names=['y', 'v', 's'],
    header=False,
    column_defaults={'v': -1.0},
    select_columns=['y', 'v'],
  )
  ((features, labels),) = batches(input_fn(mode=ModeKeys.EVAL))
  assert list(features) == ['v']
  np.testing.assert_array_equal(features['v'], [-1.0, 2.5])
  np.testing.assert_array_equal(labels, [1, 2])
  typed = csv_input_fn(
    path, None, column_names=['y', 'v', 's'], header=False, column_defaults=[tf.int64, 0.0, str]
  )
  (got,) = batches(typed(mode=ModeKeys.EVAL))
  assert got['y'].dtype == np.int64 and got['s'][1] == b'b'


def test_csv_iris_with_a_real_estimator(tmp_path):
  columns = ['SepalLength', 'SepalWidth', 'PetalLength', 'PetalWidth']

  def model_fn(features, labels, mode):
    x = tf.stack([features[c] for c in columns], axis=1)
    weights = tf.compat.v1.get_variable(
      'weights', [4, 3], initializer=tf.compat.v1.zeros_initializer()
    )
    logits = tf.matmul(x, weights)
    if mode == ModeKeys.PREDICT:
      return tf.estimator.EstimatorSpec(mode, predictions={'logits': logits})
    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
    train_op = tf.compat.v1.train.AdamOptimizer(0.1).minimize(
      loss, global_step=tf.compat.v1.train.get_global_step()
    )
    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)

  estimator = tf.estimator.Estimator(model_fn, str(tmp_path))
  estimator.train(csv_input_fn(IRIS_TRAIN, 'Species', batch_size=32, seed=0), steps=20)
  metrics = estimator.evaluate(csv_input_fn(IRIS_TEST, 'Species'))
  assert metrics['global_step'] == 20
  assert len(list(estimator.predict(csv_input_fn(IRIS_TEST, 'Species')))) == 30


@pytest.mark.parametrize(
  'kwargs,error,message',
  [
    (
      dict(file_pattern='/nonexistent/*.csv'),
      ValueError,
      "file_pattern must be a pattern matching at least one file, given: '/nonexistent",
    ),
    (dict(file_pattern=3), TypeError, 'file_pattern must be a glob pattern'),
    (
      dict(label_key='Nope'),
      KeyError,
      "label_key must be one of the selected columns .*given: 'Nope'. Pass label_key=None",
    ),
    (dict(label_key=1), TypeError, 'label_key must be a str or None, given: 1'),
    (
      dict(column_names=['a', 'b']),
      ValueError,
      r'column_names must be one name per field of .*iris_training.csv \(5 fields\)',
    ),
    (
      dict(column_names=['a', 'a', 'b', 'c', 'Species']),
      ValueError,
      'column_names must be unique names',
    ),
    (
      dict(header=False),
      ValueError,
      'column_names must be the list of column names when header=False',
    ),
    (
      dict(column_defaults=[0.0]),
      ValueError,
      r'column_defaults must be one entry per '
      r'column \(5\)',
    ),
    (dict(column_defaults={'Nope': 0.0}), KeyError, 'column_defaults keys must be names'),
    (
      dict(column_defaults={'Species': object()}),
      TypeError,
      r"column_defaults\['Species'\] must be a default value",
    ),
    (dict(select_columns=['Nope']), KeyError, 'select_columns must be names among'),
    (dict(field_delim=';;'), ValueError, 'field_delim must be a one-character str'),
    (dict(batch_size=0), ValueError, 'batch_size must be a positive int'),
    (dict(shuffle_buffer_size=0), ValueError, 'shuffle_buffer_size must be a positive int'),
    (dict(num_parallel_reads=1.5), TypeError, 'num_parallel_reads must be a positive int'),
  ],
)
def test_csv_errors(kwargs, error, message):
  arguments = dict(file_pattern=IRIS_TRAIN, label_key='Species')
  arguments.update(kwargs)
  with pytest.raises(error, match=message) as raised:
    csv_input_fn(**arguments)
  assert isinstance(raised.value, exceptions.TfestError)


# TFRecord.


@pytest.fixture(scope='module')
def records(table, tmp_path_factory):
  directory = tmp_path_factory.mktemp('records')
  features = {
    'x': table['x'],
    'k': table['k'].to_numpy(),
    'name': table['name'],
    'pair': np.stack([table['k'], -table['k']], axis=1).astype(np.float64),
    'flag': table['k'].to_numpy() % 2 == 0,
  }
  return write_tfrecords(
    features, table['label'], str(directory / 'sub' / 'data.tfrecord'), num_shards=3, label_key='y'
  )


def test_write_tfrecords_result(records):
  assert [os.path.basename(p) for p in records.paths] == [
    'data.tfrecord-%05d-of-00003' % i for i in range(3)
  ]
  assert records.label_key == 'y' and records.num_examples == 40
  assert records.feature_spec['pair'] == tf.io.FixedLenFeature([2], tf.float32)
  assert records.feature_spec['name'].dtype == tf.string
  assert records.feature_spec['flag'].dtype == tf.int64


def test_tfrecord_round_trip_in_order(table, records):
  input_fn = tfrecord_input_fn(
    records.paths, records.feature_spec, records.label_key, batch_size=16
  )
  got = batches(input_fn(mode=ModeKeys.EVAL))
  np.testing.assert_array_equal(concat(got, 'k'), table['k'])
  np.testing.assert_array_equal(concat(got), table['label'])
  np.testing.assert_allclose(concat(got, 'x'), table['x'])
  assert concat(got, 'name')[7] == b'row7'
  np.testing.assert_array_equal(concat(got, 'pair')[3], [3.0, -3.0])
  predicted = batches(input_fn(mode=ModeKeys.PREDICT))
  assert 'y' not in predicted[0]


def test_tfrecord_train_reads_shuffled_epochs(records):
  input_fn = tfrecord_input_fn(
    records.paths[0].replace('00000', '*'),
    records.feature_spec,
    'y',
    batch_size=8,
    num_epochs=2,
    seed=1,
  )
  keys = concat(batches(input_fn(mode=ModeKeys.TRAIN)), 'k').tolist()
  assert sorted(keys) == sorted(list(range(40)) * 2)
  assert keys[:40] != list(range(40))


def test_tfrecord_gzip(table, tmp_path):
  written = write_tfrecords(
    {'k': table['k']}, None, str(tmp_path / 'z.tfrecord.gz'), compression_type='GZIP'
  )
  assert written.label_key is None
  input_fn = tfrecord_input_fn(written.paths, written.feature_spec, None, compression_type='GZIP')
  got = batches(input_fn(mode=ModeKeys.EVAL))
  np.testing.assert_array_equal(concat(got, 'k'), table['k'])


@pytest.mark.parametrize('num_files', [3, 1])
def test_workers_read_disjoint_complete_shards(records, monkeypatch, num_files):
  # Three files for three workers: a file each; one file: records are shared out.
  cluster = {'chief': ['h:0'], 'worker': ['h:1', 'h:2']}
  shards = []
  for task_type, index in [('chief', 0), ('worker', 0), ('worker', 1)]:
    monkeypatch.setenv(
      'TF_CONFIG', json.dumps({'cluster': cluster, 'task': {'type': task_type, 'index': index}})
    )
    input_fn = tfrecord_input_fn(
      records.paths[:num_files], records.feature_spec, 'y', batch_size=8, num_epochs=1, seed=0
    )
    shards.append(concat(batches(input_fn(mode=ModeKeys.TRAIN)), 'k').tolist())
  everything = batches(
    tfrecord_input_fn(records.paths[:num_files], records.feature_spec, 'y')(mode=ModeKeys.EVAL)
  )
  assert sorted(sum(shards, [])) == sorted(concat(everything, 'k').tolist())
  assert all(set(a).isdisjoint(b) for a, b in itertools.combinations(shards, 2))


def test_tfrecord_with_a_real_estimator(small_data, boring_model_fn, tmp_path):
  features, labels = small_data
  written = write_tfrecords(
    features, labels, str(tmp_path / 'data' / 'train.tfrecord'), num_shards=2
  )
  input_fn = tfrecord_input_fn(
    written.paths, written.feature_spec, written.label_key, batch_size=16, seed=0
  )
  estimator = tf.estimator.Estimator(boring_model_fn, str(tmp_path / 'model'), params={})
  estimator.train(input_fn, steps=20)
  assert estimator.evaluate(input_fn)['global_step'] == 20
  assert len(list(estimator.predict(input_fn))) == 64


@pytest.mark.parametrize(
  'kwargs,error,message',
  [
    (dict(feature_spec={}), TypeError, 'feature_spec must be a non-empty dict'),
    (dict(feature_spec={'a': 3}), TypeError, r"feature_spec\['a'\] must be a tf.io parsing"),
    (dict(label_key='nope'), KeyError, 'label_key must be one of the feature_spec keys'),
    (
      dict(compression_type='ZIP'),
      ValueError,
      "compression_type must be one of None, '', 'GZIP', 'ZLIB', given: 'ZIP'",
    ),
    (dict(num_epochs=-2), ValueError, 'num_epochs must be None'),
  ],
)
def test_tfrecord_errors(records, kwargs, error, message):
  arguments = dict(file_pattern=records.paths, feature_spec=records.feature_spec, label_key='y')
  arguments.update(kwargs)
  with pytest.raises(error, match=message):
    tfrecord_input_fn(**arguments)


@pytest.mark.parametrize(
  'args,kwargs,error,message',
  [
    (
      (np.zeros((3, 2)), None),
      {},
      TypeError,
      'features must be a dict of arrays or a pandas DataFrame.*Name a single array',
    ),
    (
      ({'a': np.zeros(3)}, {'y': np.zeros(3)}),
      {},
      TypeError,
      'labels must be one array or pandas Series, or None',
    ),
    (
      ({'a': np.zeros(3)}, np.zeros(2)),
      {},
      ValueError,
      'features and labels must have the same number of rows',
    ),
    (
      ({'a': np.zeros(3)}, None),
      dict(num_shards=4),
      ValueError,
      r'num_shards must be at most the number of rows \(3\), given: 4',
    ),
    (
      ({'label': np.zeros(3)}, np.zeros(3)),
      {},
      ValueError,
      "label_key must be a name that is not a feature, given: 'label'",
    ),
    (
      ({'a': np.zeros(3, np.complex64)}, None),
      {},
      TypeError,
      'a must be float, int, bool or string values',
    ),
  ],
)
def test_write_tfrecords_errors(tmp_path, args, kwargs, error, message):
  with pytest.raises(error, match=message):
    write_tfrecords(*args, path=str(tmp_path / 'x.tfrecord'), **kwargs)


def test_docstring_examples_run(monkeypatch, capsys):
  out = input_fn_helpers.run_docstring_example(csv_input_fn, monkeypatch, capsys)
  assert out.strip() == (
    "['SepalLength', 'SepalWidth', 'PetalLength', 'PetalWidth'] <dtype: 'int32'>"
  )
  out = input_fn_helpers.run_docstring_example(tfrecord_input_fn, monkeypatch, capsys)
  assert out.strip() == '(32, 3) (32,)'
  out = input_fn_helpers.run_docstring_example(write_tfrecords, monkeypatch, capsys)
  assert out.startswith('FixedLenFeature(shape=[2], dtype=tf.int64')


def test_csv_successive_train_calls_read_on(csv_files):
  input_fn = csv_input_fn(csv_files, 'label', batch_size=40, num_epochs=1, seed=0)
  first = concat(batches(input_fn(mode=ModeKeys.TRAIN)), 'k').tolist()
  second = concat(batches(input_fn(mode=ModeKeys.TRAIN)), 'k').tolist()
  assert sorted(first) == sorted(second) and first != second
  again = csv_input_fn(csv_files, 'label', batch_size=40, num_epochs=1, seed=0)
  assert concat(batches(again(mode=ModeKeys.TRAIN)), 'k').tolist() == first


def test_the_file_io_module_path_gives_the_same_builders():
  from tfest_adapters import input_fns
  from tfest_adapters.input_fns import file_io

  assert sorted(file_io.__all__) == sorted(
    ['csv_input_fn', 'tfrecord_input_fn', 'write_tfrecords', 'TFRecordFiles']
  )
  for name in file_io.__all__:
    assert getattr(file_io, name) is getattr(input_fns, name)
  assert file_io.TFRecordFiles.__module__ == 'tfest_adapters.input_fns.file_io'
