"""Training on GBs of in-memory features: time to first step, peak RSS, model_dir size.

The seed's naive input_fn (``from_tensor_slices`` on the arrays) embeds them in the graph: at
1.2 GB of features it takes minutes to the first step, peaks at 16 GiB and writes 11 GB into
model_dir; at 2.5 GB it fails on the 2 GB protobuf limit. This script trains the same MLP
(30-128-64-10, batch 256) on ``--gb`` GB of features given as a dict of 30 float32 columns,
read by ``tensor_slices_input_fn`` (or ``numpy_input_fn``), and reports:

* ``first_step_s``: from ``estimator.train()`` to the end of the first step (fresh model_dir),
  next to the same figure for 1000 rows (``first_step_tiny_s``): the Estimator's fixed cost
  of building the graph, creating the session and writing the step-0 checkpoint. Runs on
  the big and the tiny data alternate (``--repeats`` each, same process, arrays built once)
  and the median is reported, since one run on a shared machine is noisy;
* ``step_ms``: time per training step after the first 10 steps;
* ``extra_peak_rss_ratio``: peak RSS while training minus RSS once the arrays exist, over the
  arrays' size (target <= 0.25);
* ``model_dir_mb``, and the sizes of graph.pbtxt and the .meta files.

Run it once per size in a fresh process (peak RSS is per process); it needs about
``--gb`` + 2 GB of free memory. ``--quick`` runs 20 MB in seconds.

Usage: python bench/big_arrays.py [--gb 2.5] [--builder tensor_slices|numpy] [--quick]
"""

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import threading
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import numpy as np  # noqa: E402
import psutil  # noqa: E402

NUM_COLUMNS = 30
NUM_CLASSES = 10
BATCH_SIZE = 256


def _rss():
  return psutil.Process().memory_info().rss


class _PeakRss:
  """Samples this process's RSS every few milliseconds in a background thread."""

  def __init__(self, interval=0.005):
    self.peak = _rss()
    self._interval = interval
    self._stop = threading.Event()
    self._thread = threading.Thread(target=self._run, daemon=True)

  def _run(self):
    while not self._stop.is_set():
      self.peak = max(self.peak, _rss())
      time.sleep(self._interval)

  def __enter__(self):
    self._thread.start()
    return self

  def __exit__(self, *exc):
    self._stop.set()
    self._thread.join()
    self.peak = max(self.peak, _rss())


def make_arrays(rows, seed=0):
  """A dict of NUM_COLUMNS float32 columns and int32 labels, filled in place (no temporaries)."""
  rng = np.random.default_rng(seed)
  features = {}
  for i in range(NUM_COLUMNS):
    column = np.empty(rows, np.float32)
    rng.random(dtype=np.float32, out=column)
    features['c%02d' % i] = column
  labels = np.empty(rows, np.int32)
  for start in range(0, rows, 1 << 22):  # Chunks keep integers() temporaries small.
    stop = min(rows, start + (1 << 22))
    labels[start:stop] = rng.integers(0, NUM_CLASSES, size=stop - start, dtype=np.int32)
  return features, labels


def _dense(x, units, name, activation=None):
  """A dense layer as tf.compat.v1.layers.dense computes it, without its deprecation warning."""
  import tensorflow as tf

  kernel = tf.compat.v1.get_variable(
    name + '/kernel', [x.shape[-1], units], initializer=tf.compat.v1.glorot_uniform_initializer()
  )
  bias = tf.compat.v1.get_variable(
    name + '/bias', [units], initializer=tf.compat.v1.zeros_initializer()
  )
  y = tf.nn.bias_add(tf.matmul(x, kernel), bias)
  return activation(y) if activation else y


def model_fn(features, labels, mode):
  """The benchmark MLP, 30-128-64-10, on the columns in sorted key order."""
  import tensorflow as tf

  x = tf.stack([features[k] for k in sorted(features)], axis=1)
  hidden = _dense(x, 128, 'hidden1', tf.nn.relu)
  hidden = _dense(hidden, 64, 'hidden2', tf.nn.relu)
  logits = _dense(hidden, NUM_CLASSES, 'logits')
  if mode == tf.estimator.ModeKeys.PREDICT:
    return tf.estimator.EstimatorSpec(mode, predictions={'logits': logits})
  loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
  if mode == tf.estimator.ModeKeys.EVAL:
    return tf.estimator.EstimatorSpec(mode, loss=loss)
  train_op = tf.compat.v1.train.AdamOptimizer(1e-3).minimize(
    loss, global_step=tf.compat.v1.train.get_global_step()
  )
  return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)


def _step_times():
  import tensorflow as tf

  class StepTimes(tf.estimator.SessionRunHook):
    def __init__(self):
      self.times = []

    def after_run(self, run_context, run_values):
      self.times.append(time.perf_counter())

  return StepTimes()


def _dir_sizes(path):
  total, graph, metas = 0, 0, []
  for root, _, files in os.walk(path):
    for name in files:
      size = os.path.getsize(os.path.join(root, name))
      total += size
      if name == 'graph.pbtxt':
        graph = size
      elif name.endswith('.meta'):
        metas.append(size)
  return total, graph, metas


def _input_fn(builder, features, labels):
  from tfest_adapters.input_fns import numpy_input_fn
  from tfest_adapters.input_fns import tensor_slices_input_fn

  if builder == 'numpy':
    return numpy_input_fn(
      features, labels, batch_size=BATCH_SIZE, num_epochs=None, shuffle=True, seed=0
    )
  return tensor_slices_input_fn(features, labels, batch_size=BATCH_SIZE, seed=0)


_WARMUP_STEPS = 10


def _train(builder, features, labels, steps, model_dir, evaluate=True):
  """Trains ``steps`` steps; returns (seconds to the end of step 1, seconds per later step)."""
  import tensorflow as tf

  estimator = tf.estimator.Estimator(model_fn, model_dir)
  input_fn = _input_fn(builder, features, labels)
  hook = _step_times()
  start = time.perf_counter()
  estimator.train(input_fn, steps=steps, hooks=[hook])
  first = hook.times[0] - start
  times = hook.times[min(_WARMUP_STEPS, len(hook.times) - 2) :]
  later = (times[-1] - times[0]) / (len(times) - 1)
  if evaluate:
    estimator.evaluate(input_fn, steps=5)
  return first, later


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--gb', type=float, default=2.5, help='GB (1e9 bytes) of features')
  parser.add_argument('--builder', choices=['tensor_slices', 'numpy'], default='tensor_slices')
  parser.add_argument('--steps', type=int, default=100)
  parser.add_argument(
    '--repeats',
    type=int,
    default=2,
    help='first-step measurements on big and tiny data, alternating',
  )
  parser.add_argument('--quick', action='store_true', help='20 MB, 15 steps, 1 repeat')
  parser.add_argument('--json', help='also write the figures to this file')
  args = parser.parse_args(argv)
  if args.quick:
    args.gb, args.steps, args.repeats = 0.02, 15, 1
  import tensorflow as tf

  tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.ERROR)
  rows = int(args.gb * 1e9 / (NUM_COLUMNS * 4))
  workdir = tempfile.mkdtemp(prefix='big_arrays_')
  try:
    # The Estimator's fixed cost: the same run on 1000 rows (also warms TensorFlow up).
    tiny_features, tiny_labels = make_arrays(1000)
    tiny_firsts = []

    def tiny_run(i):
      first, _ = _train(
        args.builder,
        tiny_features,
        tiny_labels,
        3,
        os.path.join(workdir, 'tiny%d' % i),
        evaluate=False,
      )
      tiny_firsts.append(first)

    tiny_run(0)
    rss_before = _rss()
    build_start = time.perf_counter()
    features, labels = make_arrays(rows)
    make_s = time.perf_counter() - build_start
    array_bytes = sum(a.nbytes for a in features.values()) + labels.nbytes
    rss_arrays = _rss()
    model_dir = os.path.join(workdir, 'model')
    firsts = []
    with _PeakRss() as peak:
      first, per_step = _train(args.builder, features, labels, args.steps, model_dir)
      firsts.append(first)
      for i in range(1, args.repeats):
        tiny_run(i)
        first, _ = _train(
          args.builder, features, labels, 3, os.path.join(workdir, 'model%d' % i), evaluate=False
        )
        firsts.append(first)
    total, graph, metas = _dir_sizes(model_dir)
    first, first_tiny = float(np.median(firsts)), float(np.median(tiny_firsts[1:] or tiny_firsts))
    figures = {
      'builder': args.builder,
      'rows': rows,
      'feature_gb': rows * NUM_COLUMNS * 4 / 1e9,
      'array_gb': array_bytes / 1e9,
      'make_arrays_s': make_s,
      'first_step_s': first,
      'first_step_tiny_s': first_tiny,
      'first_step_all_s': firsts,
      'first_step_tiny_all_s': tiny_firsts,
      'step_ms': per_step * 1e3,
      'rss_before_arrays_gb': rss_before / 1e9,
      'rss_with_arrays_gb': rss_arrays / 1e9,
      'peak_rss_gb': peak.peak / 1e9,
      'max_rss_process_gb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9,
      'extra_peak_rss_gb': (peak.peak - rss_arrays) / 1e9,
      'extra_peak_rss_ratio': (peak.peak - rss_arrays) / array_bytes,
      'model_dir_mb': total / 1e6,
      'graph_pbtxt_kb': graph / 1e3,
      'max_meta_kb': max(metas) / 1e3 if metas else 0.0,
    }
  finally:
    shutil.rmtree(workdir, ignore_errors=True)
  print(
    '%.2f GB of features (%d rows x %d float32 columns, %s): first step %.2f s '
    '(%.2f s on 1000 rows), %.1f ms/step; RSS with arrays %.2f GB, peak %.2f GB, extra '
    'peak %.3f GB = %.3fx the arrays; model_dir %.2f MB (graph.pbtxt %.0f KB, .meta %.0f KB)'
    % (
      figures['feature_gb'],
      rows,
      NUM_COLUMNS,
      args.builder,
      first,
      first_tiny,
      figures['step_ms'],
      figures['rss_with_arrays_gb'],
      figures['peak_rss_gb'],
      figures['extra_peak_rss_gb'],
      figures['extra_peak_rss_ratio'],
      figures['model_dir_mb'],
      figures['graph_pbtxt_kb'],
      figures['max_meta_kb'],
    )
  )
  if args.json:
    with open(args.json, 'w') as f:
      json.dump(figures, f, indent=2)
  return figures


if __name__ == '__main__':
  main(sys.argv[1:])
