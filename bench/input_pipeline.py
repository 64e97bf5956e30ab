"""Steady Estimator throughput of in-memory input pipelines, side by side, and the 2.5 GB run.

200k rows x 30 float32 columns given as a dict, labels in 0..9, an MLP 30-128-64-10 trained
with batch 256 by a real ``tf.estimator.Estimator`` (default RunConfig). Pipelines:

* ``legacy``: ``tf.compat.v1.estimator.inputs.numpy_input_fn`` (queue runners, feed_dict);
* ``naive``: the seed's ``from_tensor_slices((dict(x), y)).shuffle(1000).repeat().batch(256)``
  (the arrays become graph constants);
* ``numpy``: our ``numpy_input_fn``, same arguments as the legacy one;
* ``tensor_slices``: our ``tensor_slices_input_fn``;
* ``ceiling``: one batch, cached and repeated (``from_tensors(batch).repeat()``): the
  Estimator's own per-step ceiling for this model, no input work at all.

Each repeat trains every pipeline once, in a rotated order, for ``warmup + steps`` steps; the
steady rate is measured over the last ``steps``. The figure per pipeline is the median over
repeats, printed as examples/s and as a ratio to ``legacy`` (target: ours >= 3.5x legacy and
>= 3.5x naive). Then ``bench/big_arrays.py --gb 2.5`` runs in a fresh process (its peak RSS is
its own) and its time to first step, peak RSS and model_dir size are printed too.

Usage: python bench/input_pipeline.py [--quick] [--repeats 3] [--no-big]
"""

import argparse
import importlib.util
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import numpy as np  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
PIPELINES = ('legacy', 'naive', 'numpy', 'tensor_slices', 'ceiling')
NUM_COLUMNS = 30
BATCH_SIZE = 256


def _big_arrays():
  spec = importlib.util.spec_from_file_location('big_arrays', HERE / 'big_arrays.py')
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def make_data(rows, seed=0):
  rng = np.random.default_rng(seed)
  features = {'c%02d' % i: rng.random(rows, dtype=np.float32) for i in range(NUM_COLUMNS)}
  labels = rng.integers(0, 10, size=rows).astype(np.int64)
  return features, labels


def input_fns(features, labels):
  """name -> input_fn, for every pipeline compared."""
  import tensorflow as tf

  from tfest_adapters.input_fns import numpy_input_fn
  from tfest_adapters.input_fns import tensor_slices_input_fn

  def naive():
    dataset = tf.data.Dataset.from_tensor_slices((dict(features), labels))
    return dataset.shuffle(1000).repeat().batch(BATCH_SIZE)

  def ceiling():
    batch = ({k: v[:BATCH_SIZE] for k, v in features.items()}, labels[:BATCH_SIZE])
    return tf.data.Dataset.from_tensors(batch).repeat()

  return {
    'legacy': tf.compat.v1.estimator.inputs.numpy_input_fn(
      features, labels, batch_size=BATCH_SIZE, num_epochs=None, shuffle=True
    ),
    'naive': naive,
    'numpy': numpy_input_fn(
      features, labels, batch_size=BATCH_SIZE, num_epochs=None, shuffle=True, seed=0
    ),
    'tensor_slices': tensor_slices_input_fn(features, labels, batch_size=BATCH_SIZE, seed=0),
    'ceiling': ceiling,
  }


def steady_rate(model_fn, input_fn, warmup, steps):
  """Examples/s of estimator.train over the last ``steps`` of ``warmup + steps`` steps."""
  import tensorflow as tf

  class StepTimes(tf.estimator.SessionRunHook):
    def __init__(self):
      self.times = []

    def after_run(self, run_context, run_values):
      self.times.append(time.perf_counter())

  model_dir = tempfile.mkdtemp(prefix='input_pipeline_')
  try:
    hook = StepTimes()
    tf.estimator.Estimator(model_fn, model_dir).train(input_fn, steps=warmup + steps, hooks=[hook])
  finally:
    shutil.rmtree(model_dir, ignore_errors=True)
  times = hook.times[warmup:]
  return (len(times) - 1) * BATCH_SIZE / (times[-1] - times[0])


def run_big(quick):
  """The 2.5 GB run of bench/big_arrays.py: in-process when quick, else a fresh process."""
  if quick:
    return _big_arrays().main(['--quick'])
  with tempfile.NamedTemporaryFile(suffix='.json', delete=False) as f:
    path = f.name
  try:
    subprocess.run(
      [sys.executable, str(HERE / 'big_arrays.py'), '--gb', '2.5', '--json', path], check=True
    )
    with open(path) as f:
      return json.load(f)
  finally:
    os.unlink(path)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--quick', action='store_true', help='a few seconds of each, 20k rows')
  parser.add_argument('--rows', type=int, default=200_000)
  parser.add_argument('--repeats', type=int, default=3)
  parser.add_argument('--warmup', type=int, default=200)
  parser.add_argument('--steps', type=int, default=1500)
  parser.add_argument('--no-big', action='store_true', help='skip the 2.5 GB run')
  args = parser.parse_args(argv)
  if args.quick:
    args.rows, args.repeats, args.warmup, args.steps = 20_000, 1, 5, 30
  import tensorflow as tf

  tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.ERROR)
  model_fn = _big_arrays().model_fn
  features, labels = make_data(args.rows)
  fns = input_fns(features, labels)
  rates = {name: [] for name in PIPELINES}
  for repeat in range(args.repeats):
    order = PIPELINES[repeat % len(PIPELINES) :] + PIPELINES[: repeat % len(PIPELINES)]
    for name in order:
      rates[name].append(steady_rate(model_fn, fns[name], args.warmup, args.steps))
      print('repeat %d  %-14s %9.0f examples/s' % (repeat, name, rates[name][-1]), flush=True)
  median = {name: float(np.median(values)) for name, values in rates.items()}
  figures = {
    'rows': args.rows,
    'repeats': args.repeats,
    'examples_per_s': median,
    'all_examples_per_s': rates,
    'ratio_to_legacy': {name: median[name] / median['legacy'] for name in PIPELINES},
    'numpy_over_naive': median['numpy'] / median['naive'],
    'tensor_slices_over_naive': median['tensor_slices'] / median['naive'],
    'numpy_over_ceiling': median['numpy'] / median['ceiling'],
    'tensor_slices_over_ceiling': median['tensor_slices'] / median['ceiling'],
  }
  print(
    '\nSteady examples/s, median of %d interleaved repeats (%d rows x %d float32 '
    'columns as a dict, MLP 30-128-64-10, batch %d):'
    % (args.repeats, args.rows, NUM_COLUMNS, BATCH_SIZE)
  )
  for name in PIPELINES:
    print('  %-14s %9.0f   %5.2fx legacy' % (name, median[name], figures['ratio_to_legacy'][name]))
  print(
    '  ours over naive: numpy %.2fx, tensor_slices %.2fx (target >= 3.5x)'
    % (figures['numpy_over_naive'], figures['tensor_slices_over_naive'])
  )
  print(
    '  ours over the ceiling: numpy %.2f, tensor_slices %.2f'
    % (figures['numpy_over_ceiling'], figures['tensor_slices_over_ceiling'])
  )
  if not args.no_big:
    big = run_big(args.quick)
    figures['big'] = big
    print(
      '\n%.2f GB run: first step %.2f s (1000 rows: %.2f s), peak RSS %.2f GB with '
      '%.2f GB of arrays (extra %.3fx), model_dir %.2f MB'
      % (
        big['feature_gb'],
        big['first_step_s'],
        big['first_step_tiny_s'],
        big['peak_rss_gb'],
        big['array_gb'],
        big['extra_peak_rss_ratio'],
        big['model_dir_mb'],
      )
    )
  return figures


if __name__ == '__main__':
  main(sys.argv[1:])
