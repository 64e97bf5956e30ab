"""Scaling: the ratio to the limit across batch size x hidden width, for K=1, auto and fixed K.

For each size (batch 32, 256, 4096 x an MLP 30-w-w/2-10 with w = 16, 128, 1024; Adam, 30
float32 columns, 64k rows), measured side by side in one run (each repeat runs every
configuration of every size once, in a rotated order):

* ``limit``: a pure ``tf.function`` loop over batches gathered in the graph from in-memory
  tensors (a fresh permutation every epoch), as in train_throughput.py;
* ``k1``: ``make_estimator(classifier_model_fn)`` + ``numpy_input_fn``, ``steps_per_run=1``;
* ``auto``: the same without ``steps_per_run`` (the default, ``'auto'``: K chosen from a
  measured step, printed);
* ``k8``, ``k32``, ``k64``: fixed K, for the best fixed K of each size.

Each measurement trains about ``--seconds`` of the limit's time (at least 64 steps) after a
warm-up, and takes the steady examples/s from the runs' end times; the figure is the median
over repeats. Targets (issue 19): auto >= 0.8x the limit at batch 256, and auto within 10% of
the best fixed K at each size.

  python bench/scaling.py            # full run (about 15 minutes on 2 cores)
  python bench/scaling.py --quick    # seconds: two small sizes, one repeat
"""

import argparse
import math
import os
import shutil
import statistics
import tempfile
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import numpy as np  # noqa: E402

BATCHES = (32, 256, 4096)
WIDTHS = (16, 128, 1024)
FIXED_K = (8, 32, 64)
NUM_COLUMNS = 30
NUM_CLASSES = 10
LEARNING_RATE = 1e-3


def _hidden(width):
  return [width, width // 2]


def _data(rows):
  rng = np.random.default_rng(0)
  x = rng.standard_normal((rows, NUM_COLUMNS), dtype=np.float32)
  w = rng.standard_normal((NUM_COLUMNS, NUM_CLASSES)).astype(np.float32)
  y = np.argmax(x @ w + rng.standard_normal((rows, NUM_CLASSES)), axis=1).astype(np.int64)
  return x, y


class _Limit:
  """The pure in-graph training loop of one size, traced once."""

  def __init__(self, x, y, batch, width):
    import tensorflow as tf

    model = tf.keras.Sequential(
      [tf.keras.layers.Dense(u, activation='relu') for u in _hidden(width)]
      + [tf.keras.layers.Dense(NUM_CLASSES)]
    )
    model.build((None, NUM_COLUMNS))
    optimizer = tf.keras.optimizers.Adam(LEARNING_RATE)
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    rng = np.random.default_rng(0)
    order = np.concatenate([rng.permutation(len(x)) for _ in range(4)]).astype(np.int32)
    num_batches = len(order) // batch
    order = tf.constant(order[: num_batches * batch].reshape(num_batches, batch))
    features, labels = tf.constant(x), tf.constant(y)
    position = tf.Variable(0, dtype=tf.int32)

    @tf.function
    def train(steps):
      loss = tf.constant(0.0)
      for _ in tf.range(steps):
        rows = order[position % num_batches]
        with tf.GradientTape() as tape:
          loss = loss_fn(tf.gather(labels, rows), model(tf.gather(features, rows), training=True))
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        position.assign_add(1)
      return loss

    self._train = train
    self._batch = batch
    train(tf.constant(2)).numpy()

  def step_seconds(self, steps=8):
    import tensorflow as tf

    start = time.perf_counter()
    self._train(tf.constant(steps)).numpy()
    return (time.perf_counter() - start) / steps

  def rate(self, warmup, steps):
    import tensorflow as tf

    self._train(tf.constant(warmup)).numpy()
    start = time.perf_counter()
    self._train(tf.constant(steps)).numpy()
    return steps * self._batch / (time.perf_counter() - start)


def estimator_rate(features, y, batch, width, k, warmup, steps):
  """(steady examples/s, K) of make_estimator + numpy_input_fn with steps_per_run ``k``."""
  import tensorflow as tf

  import tfest_adapters as tfa
  from tfest_adapters.input_fns import numpy_input_fn
  from tfest_adapters.models import classifier_model_fn

  params = dict(
    feature_keys=sorted(features),
    hidden_units=_hidden(width),
    n_classes=NUM_CLASSES,
    optimizer='Adam',
    learning_rate=LEARNING_RATE,
  )
  if k != 'auto':
    params['steps_per_run'] = k
  model_dir = tempfile.mkdtemp(prefix='bench_scaling_')
  try:
    estimator = tfa.make_estimator(classifier_model_fn, params, model_dir, seed=0)
    input_fn = numpy_input_fn(features, y, batch_size=batch, num_epochs=None, shuffle=True, seed=0)
    per_run = estimator.resolve_steps_per_run(input_fn)  # 'auto' measures here, untimed.
    times = []

    class RunTimes(tf.compat.v1.train.SessionRunHook):
      def after_run(self, run_context, run_values):
        times.append(time.perf_counter())

    warmup_runs = max(1, math.ceil(warmup / per_run))
    runs = max(1, math.ceil(steps / per_run))
    estimator.train(input_fn, steps=(warmup_runs + runs + 1) * per_run, hooks=[RunTimes()])
    estimator.close()
    timed = times[warmup_runs : warmup_runs + runs + 1]
    return (len(timed) - 1) * per_run * batch / (timed[-1] - timed[0]), per_run
  finally:
    shutil.rmtree(model_dir, ignore_errors=True)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--quick', action='store_true', help='two small sizes, one repeat')
  parser.add_argument('--repeats', type=int, default=3)
  parser.add_argument('--seconds', type=float, default=1.0, help='limit time per measurement')
  parser.add_argument('--rows', type=int, default=65536)
  args = parser.parse_args(argv)
  sizes = [(b, w) for b in BATCHES for w in WIDTHS]
  fixed = FIXED_K
  if args.quick:
    sizes, fixed = [(32, 16), (256, 128)], (8,)
    args.repeats, args.seconds, args.rows = 1, 0.05, 8192
  configs = ['limit', 'k1', 'auto'] + ['k%d' % k for k in fixed]

  import tensorflow as tf

  tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.ERROR)
  x, y = _data(args.rows)
  features = {'c%02d' % i: np.ascontiguousarray(x[:, i]) for i in range(NUM_COLUMNS)}
  limits, steps = {}, {}
  for size in sizes:
    limits[size] = _Limit(x, y, *size)
    step = limits[size].step_seconds()
    steps[size] = max(64, int(math.ceil(args.seconds / step / 64)) * 64)
    if args.quick:
      steps[size] = 16
  rates = {(size, c): [] for size in sizes for c in configs}
  chosen = {size: [] for size in sizes}
  for repeat in range(args.repeats):
    for i, size in enumerate(sizes):
      shift = (repeat + i) % len(configs)
      for config in configs[shift:] + configs[:shift]:
        n = steps[size]
        if config == 'limit':
          rate = limits[size].rate(n // 4, n)
        else:
          k = 'auto' if config == 'auto' else int(config[1:])
          rate, per_run = estimator_rate(features, y, *size, k, n // 4, n)
          if config == 'auto':
            chosen[size].append(per_run)
        rates[(size, config)].append(rate)
      print('repeat %d  batch %4d width %4d done' % (repeat, *size), flush=True)

  median = {key: statistics.median(values) for key, values in rates.items()}
  figures = {'sizes': sizes, 'repeats': args.repeats, 'quick': bool(args.quick), 'rows': []}
  print()
  print(
    '## scaling%s: ratio to the limit (median of %d interleaved repeats; MLP 30-w-w/2-10, '
    'Adam, %d rows x 30 float32)' % (' (quick)' if args.quick else '', args.repeats, args.rows)
  )
  print()
  print(
    '| batch | width | limit (examples/s) | K=1 | auto | auto K | best fixed K | '
    'auto / best fixed K |'
  )
  print('| ---: | ---: | ---: | ---: | ---: | --- | --- | ---: |')
  for size in sizes:
    limit = median[(size, 'limit')]
    ratio = {c: median[(size, c)] / limit for c in configs if c != 'limit'}
    fixed_configs = ['k1'] + ['k%d' % k for k in fixed]
    best = max(fixed_configs, key=lambda c: ratio[c])
    row = dict(
      batch=size[0],
      width=size[1],
      limit=limit,
      ratios=ratio,
      auto_k=chosen[size],
      best_fixed=best,
      auto_over_best=ratio['auto'] / ratio[best],
    )
    figures['rows'].append(row)
    print(
      '| %d | %d | %.0f | %.2fx | %.2fx | %s | %s (%.2fx) | %.2f |'
      % (
        size[0],
        size[1],
        limit,
        ratio['k1'],
        ratio['auto'],
        ','.join(map(str, chosen[size])),
        best,
        ratio[best],
        row['auto_over_best'],
      )
    )
  at_256 = [r for r in figures['rows'] if r['batch'] == 256]
  figures['auto_at_256_min_ratio'] = min(r['ratios']['auto'] for r in at_256) if at_256 else None
  figures['auto_over_best_min'] = min(r['auto_over_best'] for r in figures['rows'])
  print()
  if at_256:
    print(
      '- auto at batch 256: %.2fx the limit at worst (target >= 0.8x): %s'
      % (
        figures['auto_at_256_min_ratio'],
        'met' if figures['auto_at_256_min_ratio'] >= 0.8 else 'NOT met',
      )
    )
  print(
    '- auto / best fixed K: %.2f at worst (target >= 0.9): %s'
    % (
      figures['auto_over_best_min'],
      'met' if figures['auto_over_best_min'] >= 0.9 else 'NOT met',
    )
  )
  return figures


if __name__ == '__main__':
  main()
