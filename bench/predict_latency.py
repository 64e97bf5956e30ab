"""Prediction latency: Estimator.predict vs a raw TF2 SavedModel call vs tfest_adapters.Predictor.

Trains a small network (the TensorFlow guide's Iris DNN: two hidden layers of 10 units, 3
classes) for a few steps, exports it, and measures, interleaved in one run (each round times
every contender once, so machine load hits all of them alike; medians over rounds):

* ``Estimator.predict`` of one row (rebuilds the graph and restores the checkpoint per call);
* the raw SavedModel: ``tf.saved_model.load(path).signatures[key](**tensors)``, warm, with
  the input tensors made before timing (its best case);
* ``Predictor.from_saved_model(path)(features)``, warm.

for one row and for a 1024-row batch. Targets (issue 5): Predictor one-row latency <= 1/300 of
Estimator.predict (``estimator_over_predictor_1row >= 300``) and 1024-row throughput >= 0.8x
the raw SavedModel call's (``predictor_over_raw_throughput_1024 >= 0.8``).

Then, for wide inputs (``classifier_model_fn`` over 30 and 300 float32 columns, one hidden
layer of 16 units), one row given as a dict of arrays and as a DataFrame, interleaved the
same way: the Predictor (the columns fed as one matrix, split in the graph), the SavedModel
as TF loads it fed one tensor per column through a ``CallableOptions`` callable, the same
feeds through ``Session.make_callable(fetches, feed_list)`` (the path before issue 19:
``session.run``'s checks per feed), and ``Estimator.predict`` (30 columns). Targets (issue
19): one row of 30 columns <= 0.1 ms and <= 1/1000 of ``Estimator.predict``; a cost that does
not grow with the columns (the cost per added column is printed).

  python bench/predict_latency.py            # full run (about a minute)
  python bench/predict_latency.py --quick    # seconds, to check that it runs
"""

import argparse
import os
import pathlib
import statistics
import sys
import tempfile
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

REPO = pathlib.Path(__file__).resolve().parents[1]
FEATURES = ('SepalLength', 'SepalWidth', 'PetalLength', 'PetalWidth')
WIDE_COLUMNS = (30, 300)


def _model_fn(features, labels, mode, params):
  """The guide's custom Estimator (two hidden layers, softmax), in plain tf.compat.v1."""
  import tensorflow as tf

  x = tf.stack([tf.cast(features[k], tf.float32) for k in FEATURES], axis=1)
  for units in params['hidden_units']:
    x = tf.compat.v1.layers.dense(x, units, activation=tf.nn.relu)
  logits = tf.compat.v1.layers.dense(x, 3)
  class_ids = tf.argmax(logits, axis=1)
  predictions = {
    'class_ids': class_ids[:, tf.newaxis],
    'probabilities': tf.nn.softmax(logits),
    'logits': logits,
  }
  # Predict.
  if mode == tf.estimator.ModeKeys.PREDICT:
    return tf.estimator.EstimatorSpec(mode, predictions=predictions)
  loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
  # Eval.
  if mode == tf.estimator.ModeKeys.EVAL:
    return tf.estimator.EstimatorSpec(mode, loss=loss)
  # Train.
  optimizer = tf.compat.v1.train.AdagradOptimizer(0.1)
  train_op = optimizer.minimize(loss, global_step=tf.compat.v1.train.get_global_step())
  return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)


def _load_iris():
  import numpy as np
  import pandas as pd

  frame = pd.read_csv(REPO / 'data' / 'iris_training.csv')
  return ({k: frame[k].to_numpy(np.float32) for k in FEATURES}, frame['Species'].to_numpy(np.int64))


def _batch(features, rows):
  import numpy as np

  n = len(next(iter(features.values())))
  index = np.arange(rows) % n
  return {k: v[index] for k, v in features.items()}


def _wide_case(tfa, workdir, n_columns, quick):
  """(predictor, estimator, one-row dict, one-row DataFrame, old-path callable) of N columns."""
  import numpy as np
  import pandas as pd

  from tfest_adapters.input_fns import numpy_input_fn
  from tfest_adapters.models import classifier_model_fn

  rng = np.random.default_rng(n_columns)
  keys = ['x%03d' % i for i in range(n_columns)]
  features = {k: rng.standard_normal(256).astype(np.float32) for k in keys}
  labels = (features[keys[0]] > 0).astype(np.int64)
  params = dict(feature_keys=keys, hidden_units=[16], n_classes=2, steps_per_run=1)
  model_dir = os.path.join(workdir, 'wide%d' % n_columns)
  estimator = tfa.make_estimator(classifier_model_fn, params, model_dir, seed=0)
  estimator.train(numpy_input_fn(features, labels, batch_size=32, num_epochs=1, shuffle=False))
  export_dir = tfa.export_saved_model(
    estimator, model_dir + '_export', sample_features={k: v[:2] for k, v in features.items()}
  )
  predictor = tfa.Predictor.from_saved_model(export_dir)
  one = {k: v[:1] for k, v in features.items()}
  frame = pd.DataFrame(one)
  # The path before issue 19: the SavedModel loaded as TF loads it (one placeholder per column,
  # the Predictor's session config), called through Session.make_callable with a feed list
  # (session.run's checks per feed), fed the Predictor's own per-column conversion.
  import tensorflow as tf
  from tensorflow.core.protobuf import config_pb2

  graph = tf.Graph()
  session = tf.compat.v1.Session(graph=graph, config=predictor._session._config)
  with graph.as_default():
    meta = tf.compat.v1.saved_model.loader.load(session, ['serve'], export_dir)
  signature = meta.signature_def[predictor.signature_key]
  feeds = [graph.get_tensor_by_name(signature.inputs[k].name) for k in sorted(signature.inputs)]
  fetches = [graph.get_tensor_by_name(signature.outputs[k].name) for k in predictor.output_keys]
  old_call = session.make_callable(fetches, feeds)
  # The path between issue 19's first half and packing: a CallableOptions callable, one feed
  # per column (TF's fast path, no per-feed checks; TF's cost per fed tensor remains).
  options = config_pb2.CallableOptions(
    feed=[t.name for t in feeds], fetch=[t.name for t in fetches]
  )
  column_call = session._make_callable_from_options(options)

  def columns(features):
    return predictor._columns(*predictor._container(features))[0]

  def old_path(features):
    return old_call(*columns(features))

  def column_path(features):
    return column_call(*columns(features))

  return predictor, estimator, one, frame, old_path, column_path


def _time_block(fn, calls):
  """Mean milliseconds per call over ``calls`` calls."""
  start = time.perf_counter()
  for _ in range(calls):
    fn()
  return (time.perf_counter() - start) / calls * 1e3


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--quick', action='store_true', help='a few seconds, to check it runs')
  parser.add_argument('--rounds', type=int, default=None, help='interleaved rounds')
  args = parser.parse_args(argv)
  rounds = args.rounds or (2 if args.quick else 9)
  fast_calls = 20 if args.quick else 300
  big_calls = 5 if args.quick else 60

  import numpy as np
  import tensorflow as tf

  sys.path.insert(0, str(REPO))
  import tfest_adapters as tfa

  features, labels = _load_iris()
  workdir = tempfile.mkdtemp(prefix='bench-predict-')
  estimator = tfa.make_estimator(
    _model_fn, params=dict(hidden_units=[10, 10]), model_dir=os.path.join(workdir, 'model'), seed=0
  )

  def train_input_fn():
    return (
      tf.data.Dataset.from_tensor_slices((features, labels)).shuffle(120, seed=0).repeat().batch(32)
    )

  tfa.fit(estimator, train_input_fn, max_steps=20 if args.quick else 200, progress=False)
  one = _batch(features, 1)
  big = _batch(features, 1024)
  export_dir = tfa.export_saved_model(
    estimator, os.path.join(workdir, 'export'), sample_features=_batch(features, 3)
  )
  predictor = tfa.Predictor.from_saved_model(export_dir)
  loaded = tf.saved_model.load(export_dir)
  signature = loaded.signatures[predictor.signature_key]

  def estimator_predict():
    return next(
      estimator.predict(
        lambda: tf.data.Dataset.from_tensor_slices(one).batch(1), yield_single_examples=False
      )
    )

  # Same answers before timing anything.
  want = estimator_predict()['probabilities']
  got = predictor(one)['probabilities']
  # The raw call gets tensors made beforehand (its best case: no conversion timed).
  one_tensors = {k: tf.constant(v) for k, v in one.items()}
  big_tensors = {k: tf.constant(v) for k, v in big.items()}
  raw = signature(**one_tensors)['probabilities'].numpy()
  max_diff = float(max(np.max(np.abs(got - want)), np.max(np.abs(raw - want))))

  contenders = {
    'estimator_1row': (estimator_predict, 1),
    'raw_1row': (lambda: signature(**one_tensors), fast_calls // 3 or 1),
    'predictor_1row': (lambda: predictor(one), fast_calls),
    'raw_1024': (lambda: signature(**big_tensors), big_calls),
    'predictor_1024': (lambda: predictor(big), big_calls),
  }
  wide = {n: _wide_case(tfa, workdir, n, args.quick) for n in WIDE_COLUMNS}
  for n, (wide_predictor, _, wide_one, wide_frame, old_path, column_path) in wide.items():
    for x in (wide_one, wide_frame):  # Bitwise the outputs of the paths before.
      new = wide_predictor(x)
      for path in (old_path, column_path):
        old = path(x)
        assert all(np.array_equal(new[k], old[i]) for i, k in enumerate(wide_predictor.output_keys))
    contenders.update(
      {
        'predictor_%d_dict' % n: (lambda p=wide_predictor, x=wide_one: p(x), fast_calls),
        'predictor_%d_frame' % n: (lambda p=wide_predictor, x=wide_frame: p(x), fast_calls),
        'old_%d_dict' % n: (lambda f=old_path, x=wide_one: f(x), max(1, fast_calls // 6)),
        'old_%d_frame' % n: (lambda f=old_path, x=wide_frame: f(x), max(1, fast_calls // 6)),
        'columns_%d_dict' % n: (lambda f=column_path, x=wide_one: f(x), fast_calls),
        'columns_%d_frame' % n: (lambda f=column_path, x=wide_frame: f(x), fast_calls),
      }
    )
  wide_estimator, wide_one = wide[30][1], wide[30][2]
  contenders['estimator_30'] = (
    lambda: next(
      wide_estimator.predict(
        lambda: tf.data.Dataset.from_tensor_slices(wide_one).batch(1),
        yield_single_examples=False,
      )
    ),
    1,
  )
  for fn, _ in contenders.values():  # Warm up: first calls build and optimize graphs.
    for _ in range(3):
      fn()
  times = {name: [] for name in contenders}
  for _ in range(rounds):
    for name, (fn, calls) in contenders.items():
      times[name].append(_time_block(fn, calls))
  ms = {name: statistics.median(values) for name, values in times.items()}
  figures = {
    'estimator_predict_1row_ms': ms['estimator_1row'],
    'raw_savedmodel_1row_ms': ms['raw_1row'],
    'predictor_1row_ms': ms['predictor_1row'],
    'raw_savedmodel_1024_ms': ms['raw_1024'],
    'predictor_1024_ms': ms['predictor_1024'],
    'estimator_over_predictor_1row': ms['estimator_1row'] / ms['predictor_1row'],
    'raw_over_predictor_1row': ms['raw_1row'] / ms['predictor_1row'],
    'predictor_over_raw_throughput_1024': ms['raw_1024'] / ms['predictor_1024'],
    'max_abs_diff_to_estimator': max_diff,
    'rounds': rounds,
    'quick': bool(args.quick),
  }
  figures['meets_1row_target'] = figures['estimator_over_predictor_1row'] >= 300
  figures['meets_1024_target'] = figures['predictor_over_raw_throughput_1024'] >= 0.8
  for n in WIDE_COLUMNS:
    for kind in ('dict', 'frame'):
      figures['predictor_%d_%s_ms' % (n, kind)] = ms['predictor_%d_%s' % (n, kind)]
      figures['make_callable_%d_%s_ms' % (n, kind)] = ms['old_%d_%s' % (n, kind)]
      figures['column_feeds_%d_%s_ms' % (n, kind)] = ms['columns_%d_%s' % (n, kind)]
  low, high = WIDE_COLUMNS
  for kind in ('dict', 'frame'):
    figures['predictor_%s_us_per_column' % kind] = (
      1000
      * (figures['predictor_%d_%s_ms' % (high, kind)] - figures['predictor_%d_%s_ms' % (low, kind)])
      / (high - low)
    )
  figures['estimator_predict_30_ms'] = ms['estimator_30']
  figures['estimator_over_predictor_30'] = ms['estimator_30'] / ms['predictor_30_dict']
  figures['meets_30_column_target'] = (
    figures['predictor_30_dict_ms'] <= 0.1 and figures['estimator_over_predictor_30'] >= 1000
  )
  predictor.close()
  for case in wide.values():
    case[0].close()

  print('## predict_latency%s' % (' (quick)' if args.quick else ''))
  print('Small Iris DNN (2x10 hidden units), medians of %d interleaved rounds.' % rounds)
  print('| contender | 1 row (ms) | 1024 rows (ms) |')
  print('| --- | ---: | ---: |')
  print('| Estimator.predict | %.2f | - |' % figures['estimator_predict_1row_ms'])
  print(
    '| raw SavedModel signature call (TF2) | %.3f | %.3f |'
    % (figures['raw_savedmodel_1row_ms'], figures['raw_savedmodel_1024_ms'])
  )
  print(
    '| tfest_adapters.Predictor | %.3f | %.3f |'
    % (figures['predictor_1row_ms'], figures['predictor_1024_ms'])
  )
  print()
  print(
    '- Estimator.predict / Predictor, one row: %.0fx (target >= 300x): %s'
    % (
      figures['estimator_over_predictor_1row'],
      'met' if figures['meets_1row_target'] else 'NOT met',
    )
  )
  print(
    '- Predictor throughput / raw SavedModel throughput, 1024 rows: %.2fx (target >= '
    '0.8x): %s'
    % (
      figures['predictor_over_raw_throughput_1024'],
      'met' if figures['meets_1024_target'] else 'NOT met',
    )
  )
  print('- raw SavedModel / Predictor, one row: %.1fx' % figures['raw_over_predictor_1row'])
  print('- max |probability difference| to Estimator.predict: %.2g' % max_diff)
  print()
  print(
    'Wide inputs, one row (ms; classifier_model_fn, 16 hidden units; bitwise the same outputs). '
    'The Predictor feeds the columns as one matrix; one feed per column: the SavedModel as TF '
    'loads it, called through a CallableOptions callable; make_callable: the same feeds through '
    'Session.make_callable(fetches, feed_list), the call before issue 19:'
  )
  print(
    '| columns | Predictor, dict | Predictor, DataFrame | one feed per column, dict | '
    'one feed per column, DataFrame | make_callable, dict | make_callable, DataFrame |'
  )
  print('| ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
  for n in WIDE_COLUMNS:
    print(
      '| %d | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |'
      % tuple(
        [n]
        + [
          figures['%s_%d_%s_ms' % (who, n, kind)]
          for who in ('predictor', 'column_feeds', 'make_callable')
          for kind in ('dict', 'frame')
        ]
      )
    )
  print()
  print(
    '- the Predictor per added column, %d -> %d columns: %.2f us (dict), %.2f us (DataFrame)'
    % (low, high, figures['predictor_dict_us_per_column'], figures['predictor_frame_us_per_column'])
  )
  print(
    '- one row of 30 columns: %.3f ms (target <= 0.1 ms), Estimator.predict %.1f ms: %.0fx '
    '(target >= 1000x): %s'
    % (
      figures['predictor_30_dict_ms'],
      figures['estimator_predict_30_ms'],
      figures['estimator_over_predictor_30'],
      'met' if figures['meets_30_column_target'] else 'NOT met',
    )
  )
  return figures


if __name__ == '__main__':
  main()
