"""Wide-and-deep training throughput: the template with steps_per_run against canned's.

A census-like table (``data/make_census.py``'s generator, 20k rows: 2 numbers, 5 string
categories), the wide part the 5 categorical columns, bucketized age and two crosses, the deep
part the numbers, 2 embeddings and 3 one-hot columns, hidden units 64,32, batch 256, the
canned defaults (Ftrl + Adagrad). Configurations, all on the same DataFrame fed by
``tensor_slices_input_fn`` in the same process:

* ``canned``: ``tf.estimator.DNNLinearCombinedClassifier``, one step per ``session.run``;
* ``k1``: ``make_estimator(wide_deep_classifier_model_fn)``, one step per run;
* ``k8``, ``k32``: the same with ``steps_per_run`` 8 and 32 (groups of batches trained in an
  in-graph loop; the same weights as one step per run).

Each repeat trains every configuration once, in a rotated order, for ``warmup + steps``
steps; the rate is taken over the last ``steps`` (examples per second), the median over
repeats printed with its ratio to ``canned``, and the load average beside it.

With ``--cached`` the input_fn's first 4 batches (or groups) are cached and repeated, which
takes the input pipeline (a ``tf.numpy_function`` gathering rows in Python) out of the rates:
what is left is the model's step and the per-run cost.

Usage: python bench/wide_deep_throughput.py [--quick] [--repeats 3] [--cached]
"""

import argparse
import importlib.util
import os
import pathlib
import shutil
import tempfile
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import numpy as np  # noqa: E402

CONFIGS = ('canned', 'k1', 'k8', 'k32')
STEPS_PER_RUN = {'canned': 1, 'k1': 1, 'k8': 8, 'k32': 32}
BATCH_SIZE = 256
HIDDEN_UNITS = [64, 32]
ROOT = pathlib.Path(__file__).resolve().parents[1]


def make_table(rows):
  spec = importlib.util.spec_from_file_location('make_census', ROOT / 'data' / 'make_census.py')
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  import pandas as pd

  table = pd.DataFrame(module.make_table(rows))
  labels = (table.pop('income') == '>50K').astype(np.int64)
  return table.astype({'age': np.float32, 'hours_per_week': np.float32}), labels


def columns(table):
  import tensorflow as tf

  fc = tf.feature_column
  categorical = {
    name: fc.categorical_column_with_vocabulary_list(name, sorted(table[name].unique()))
    for name in ['workclass', 'education', 'occupation', 'marital_status', 'sex']
  }
  age_buckets = fc.bucketized_column(fc.numeric_column('age'), [25, 30, 35, 40, 45, 50, 55, 60])
  wide = list(categorical.values()) + [
    age_buckets,
    fc.crossed_column(['education', 'occupation'], 100),
    fc.crossed_column([age_buckets, 'marital_status'], 50),
  ]
  deep = [
    fc.numeric_column('age'),
    fc.numeric_column('hours_per_week'),
    fc.embedding_column(categorical['occupation'], 4),
    fc.embedding_column(categorical['education'], 4),
    fc.indicator_column(categorical['workclass']),
    fc.indicator_column(categorical['marital_status']),
    fc.indicator_column(categorical['sex']),
  ]
  return wide, deep


def make_estimator(name, model_dir, wide, deep):
  import tensorflow as tf

  import tfest_adapters as tfa

  if name == 'canned':
    return tf.estimator.DNNLinearCombinedClassifier(
      linear_feature_columns=wide,
      dnn_feature_columns=deep,
      dnn_hidden_units=HIDDEN_UNITS,
      model_dir=model_dir,
      config=tf.estimator.RunConfig(tf_random_seed=0),
    )
  return tfa.make_estimator(
    tfa.wide_deep_classifier_model_fn,
    params=dict(
      linear_feature_columns=wide,
      dnn_feature_columns=deep,
      dnn_hidden_units=HIDDEN_UNITS,
      steps_per_run=STEPS_PER_RUN[name],
    ),
    model_dir=model_dir,
    seed=0,
  )


def rate(name, input_fn, wide, deep, warmup, steps):
  """Steady examples/s over the last ``steps`` of ``warmup + steps`` steps of one train()."""
  import tensorflow as tf

  per_run = STEPS_PER_RUN[name]

  class RunTimes(tf.compat.v1.train.SessionRunHook):
    def __init__(self):
      self.times = []

    def after_run(self, run_context, run_values):
      self.times.append(time.perf_counter())

  hook = RunTimes()
  warmup_runs, runs = -(-warmup // per_run), -(-steps // per_run)
  model_dir = tempfile.mkdtemp(prefix='wide_deep_throughput_')
  try:
    estimator = make_estimator(name, model_dir, wide, deep)
    estimator.train(input_fn, steps=(warmup_runs + runs + 1) * per_run, hooks=[hook])
  finally:
    shutil.rmtree(model_dir, ignore_errors=True)
  times = hook.times[warmup_runs : warmup_runs + runs + 1]
  return (len(times) - 1) * per_run * BATCH_SIZE / (times[-1] - times[0])


def cached(input_fn):
  """``input_fn`` whose Dataset repeats its first 4 elements (batches, or groups)."""

  def cached_input_fn(params, mode=None):
    return input_fn(params=params, mode=mode).take(4).cache().repeat()

  return cached_input_fn


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--quick', action='store_true', help='seconds in all, 2k rows')
  parser.add_argument('--rows', type=int, default=20_000)
  parser.add_argument('--repeats', type=int, default=3)
  parser.add_argument('--warmup', type=int, default=64)
  parser.add_argument('--steps', type=int, default=640)
  parser.add_argument('--cached', action='store_true', help='repeat the first 4 batches')
  args = parser.parse_args(argv)
  if args.quick:
    args.rows, args.repeats, args.warmup, args.steps = 2_000, 1, 8, 32
  import tensorflow as tf

  import tfest_adapters as tfa

  tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.ERROR)
  table, labels = make_table(args.rows)
  wide, deep = columns(table)
  input_fn = tfa.tensor_slices_input_fn(table, labels, batch_size=BATCH_SIZE, shuffle=True, seed=0)
  if args.cached:
    input_fn = cached(input_fn)
  rates = {name: [] for name in CONFIGS}
  loads = []
  for repeat in range(args.repeats):
    order = CONFIGS[repeat % len(CONFIGS) :] + CONFIGS[: repeat % len(CONFIGS)]
    for name in order:
      rates[name].append(rate(name, input_fn, wide, deep, args.warmup, args.steps))
      loads.append(os.getloadavg()[0])
      print(
        'repeat %d  %-7s %8.0f examples/s  (load %.1f)'
        % (repeat, name, rates[name][-1], loads[-1]),
        flush=True,
      )
  median = {name: float(np.median(values)) for name, values in rates.items()}
  print(
    '\nWide and deep, %d rows%s, batch %d, hidden units %s, steady examples/s, median of %d '
    'interleaved repeats (load average %.1f-%.1f):'
    % (
      args.rows,
      ' (input cached: 4 batches repeated)' if args.cached else '',
      BATCH_SIZE,
      HIDDEN_UNITS,
      args.repeats,
      min(loads),
      max(loads),
    )
  )
  for name in CONFIGS:
    print('  %-7s %8.0f   %.2fx canned' % (name, median[name], median[name] / median['canned']))
  return {'examples_per_s': median, 'all_examples_per_s': rates, 'load_average': loads}


if __name__ == '__main__':
  main()
