"""Training throughput side by side: the in-graph limit, Keras fit, and Estimators, K steps per run.

200k rows x 30 float32 features, labels in 0..9, an MLP 30-128-64-10 trained with Adam
(learning rate 1e-3) and batch 256, on the CPU. Configurations:

* ``limit``: a pure ``tf.function`` training loop, ``tf.range`` over batches gathered in
  the graph from in-memory tensors (a fresh permutation of the rows every epoch, as the
  others shuffle), thousands of steps per call: what this machine can do with this model;
* ``keras_fit``: ``tf.keras.Model.fit`` on the numpy arrays (its defaults:
  ``steps_per_execution=1``);
* ``legacy``: ``tf.estimator.Estimator(classifier_model_fn)`` fed by the legacy
  ``tf.compat.v1.estimator.inputs.numpy_input_fn`` (features as a dict of 30 columns);
* ``k1``: ``make_estimator(classifier_model_fn)`` fed by our ``numpy_input_fn``, one step
  per ``session.run`` (``steps_per_run=1``);
* ``auto``: the README's code as written: ``make_estimator(classifier_model_fn)`` and
  ``numpy_input_fn`` without ``steps_per_run``, so ``'auto'`` chooses K (printed with the
  figures; the measurement is in its first-call fixed cost, not in its steady rate);
* ``k8``, ``k32``: the same with ``steps_per_run`` 8 and 32: our ``numpy_input_fn`` gathers
  groups of batches at once (``input_fns/_grouping.py``: from a row-major copy of the
  columns, sent to the model as one matrix) and the template trains a group per
  ``session.run`` in an in-graph loop, stopped exactly at the last step;
* ``k32_wrap``: as ``k32``, but the groups made by ``group_batches`` around the Dataset of
  batches of ``k1`` (what any input_fn gets): the cost of grouping after batching;
* ``k32_fused``: as ``k32``, but with TF's fused Adam kernel (``ResourceApplyAdam``: the
  optimizer a callable returning ``tf.keras.optimizers.legacy.Adam``, which is used as it
  is), where the templates' ``'Adam'`` makes the same update with elementwise ops on a CPU
  (``models/_optimizers._Adam``, bitwise the same weights): what that gains.

Each repeat runs every configuration once, in a rotated order, for ``warmup + steps`` steps,
and the steady rate is taken over the last ``steps``: examples per second, and examples per
CPU-second of this process (less sensitive to other processes on a shared machine; it
counts the input pipeline's threads too). The figure per configuration is the median over
repeats, printed with its ratio to ``limit`` and to ``keras_fit`` (targets: the best of
k8/k32 >= 0.8x the limit and >= 2.5x keras_fit). The Estimator configurations also get
their fixed cost per ``train()`` call (graph, session, checkpoints), from the wall time of
two ``train()`` calls of different lengths: further calls of one Estimator on one model_dir,
as a training loop or ``fit``'s chunks make them (target <= 0.45 s), and first calls on fresh
model_dirs (which also write the graph and have no checkpoint to restore). The 1-minute load
average is printed with the figures.

``legacy`` is TF's own ``tf.estimator.Estimator``; the others are
``tfest_adapters.make_estimator``'s (a thin subclass: exact stops with groups, no re-save of
the restored checkpoint, and the graph and session of a ``train()`` call kept for the next
one, which then builds nothing: see ``tfest_adapters/estimator/_kept_session.py``).
``legacy``'s fixed cost is what every ``train()`` call costs when it builds its graph and
session anew.

Usage: python bench/train_throughput.py [--quick] [--repeats 5] [--only k8,limit]
"""

import argparse
import os
import shutil
import sys
import tempfile
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import numpy as np  # noqa: E402

CONFIGS = ('limit', 'keras_fit', 'legacy', 'k1', 'auto', 'k8', 'k32', 'k32_wrap', 'k32_fused')
ESTIMATOR_CONFIGS = ('legacy', 'k1', 'auto', 'k8', 'k32', 'k32_wrap', 'k32_fused')
STEPS_PER_RUN = {'legacy': 1, 'k1': 1, 'k8': 8, 'k32': 32, 'k32_wrap': 32, 'k32_fused': 32}
NUM_COLUMNS = 30
NUM_CLASSES = 10
HIDDEN_UNITS = (128, 64)
BATCH_SIZE = 256
LEARNING_RATE = 1e-3


def _clock():
  """(wall time, CPU time of this process, all threads)."""
  return time.perf_counter(), time.process_time()


def _rates(examples, start, end):
  """(examples per second, examples per CPU-second of this process) between two clocks."""
  return examples / (end[0] - start[0]), examples / (end[1] - start[1])


def make_data(rows, seed=0):
  """(x [rows, 30] float32, y [rows] int64): learnable labels, a fixed seed."""
  rng = np.random.default_rng(seed)
  x = rng.standard_normal((rows, NUM_COLUMNS), dtype=np.float32)
  w = rng.standard_normal((NUM_COLUMNS, NUM_CLASSES)).astype(np.float32)
  y = np.argmax(x @ w + rng.standard_normal((rows, NUM_CLASSES)), axis=1).astype(np.int64)
  return x, y


def _keras_model():
  import tensorflow as tf

  return tf.keras.Sequential(
    [tf.keras.layers.Dense(units, activation='relu') for units in HIDDEN_UNITS]
    + [tf.keras.layers.Dense(NUM_CLASSES)]
  )


class _Limit:
  """The pure in-graph loop; built once (tracing is not part of its steady rate).

  It does the same job as the others: a fresh permutation of the rows every epoch, each
  batch gathered from the in-memory [rows, 30] tensor inside the graph.
  """

  def __init__(self, x, y, epochs=8, seed=0):
    import tensorflow as tf

    self._model = _keras_model()
    self._model.build((None, NUM_COLUMNS))
    optimizer = tf.keras.optimizers.Adam(LEARNING_RATE)
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(len(x)) for _ in range(epochs)]).astype(np.int32)
    num_batches = len(order) // BATCH_SIZE
    order = tf.constant(order[: num_batches * BATCH_SIZE].reshape(num_batches, BATCH_SIZE))
    features, labels = tf.constant(x), tf.constant(y)
    model = self._model
    self._position = tf.Variable(0, dtype=tf.int32)

    @tf.function
    def train(steps):
      loss = tf.constant(0.0)
      for _ in tf.range(steps):
        rows = order[self._position % num_batches]
        with tf.GradientTape() as tape:
          logits = model(tf.gather(features, rows), training=True)
          loss = loss_fn(tf.gather(labels, rows), logits)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        self._position.assign_add(1)
      return loss

    self._train = train
    self._train(tf.constant(2))  # Traced once here.

  def rate(self, warmup, steps):
    import tensorflow as tf

    self._train(tf.constant(warmup)).numpy()
    start = _clock()
    self._train(tf.constant(steps)).numpy()
    return _rates(steps * BATCH_SIZE, start, _clock())


def keras_fit_rate(x, y, warmup, steps):
  """Steady examples/s of Model.fit, timed batch by batch."""
  import tensorflow as tf

  model = _keras_model()
  model.compile(
    tf.keras.optimizers.Adam(LEARNING_RATE),
    tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
  )
  times = []

  class Times(tf.keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
      times.append(_clock())

  batches_per_epoch = -(-len(x) // BATCH_SIZE)
  epochs = -(-(warmup + steps + 1) // batches_per_epoch)
  model.fit(
    x, y, batch_size=BATCH_SIZE, epochs=epochs, verbose=0, callbacks=[Times()], shuffle=True
  )
  times = times[warmup : warmup + steps + 1]
  return _rates((len(times) - 1) * BATCH_SIZE, times[0], times[-1])


def feature_dict(x):
  return {'c%02d' % i: np.ascontiguousarray(x[:, i]) for i in range(NUM_COLUMNS)}


def _fused_adam():
  import tensorflow as tf

  return tf.keras.optimizers.legacy.Adam(LEARNING_RATE)


def _params(name=None):
  params = dict(
    feature_keys=['c%02d' % i for i in range(NUM_COLUMNS)],
    hidden_units=list(HIDDEN_UNITS),
    n_classes=NUM_CLASSES,
    optimizer='Adam',
    learning_rate=LEARNING_RATE,
  )
  if name == 'k32_fused':  # A callable's Keras optimizer is used as it is.
    params.update(optimizer=_fused_adam, learning_rate=None)
  if name in STEPS_PER_RUN and name != 'legacy':  # 'auto': the README's params, no key.
    params['steps_per_run'] = STEPS_PER_RUN[name]
  return params


def estimator_input_fn(name, features, labels):
  """The training input_fn of an Estimator configuration."""
  import tensorflow as tf

  from tfest_adapters.input_fns import group_batches
  from tfest_adapters.input_fns import numpy_input_fn

  if name == 'legacy':
    return tf.compat.v1.estimator.inputs.numpy_input_fn(
      features, labels, batch_size=BATCH_SIZE, num_epochs=None, shuffle=True
    )
  if name.endswith('_wrap'):  # The generic wrapper, around a Dataset of batches.
    return group_batches(
      numpy_input_fn(
        features, labels, batch_size=BATCH_SIZE, num_epochs=None, shuffle=True, seed=0
      ),
      STEPS_PER_RUN[name],
    )
  return numpy_input_fn(
    features,
    labels,
    batch_size=BATCH_SIZE,
    num_epochs=None,
    shuffle=True,
    seed=0,
    steps_per_run=STEPS_PER_RUN.get(name),  # None for 'auto': the Estimator's params say.
  )


def make_estimator(name, model_dir):
  """``legacy``: TF's own Estimator; the others: ``tfest_adapters.make_estimator``'s."""
  import tensorflow as tf

  import tfest_adapters
  from tfest_adapters.models import classifier_model_fn

  if name == 'legacy':
    return tf.estimator.Estimator(
      classifier_model_fn,
      model_dir,
      params=_params(),
      config=tf.estimator.RunConfig(tf_random_seed=0),
    )
  # It stops train(steps=N) exactly with groups (StepsPerRunStopHook), as fit does.
  return tfest_adapters.make_estimator(classifier_model_fn, _params(name), model_dir, seed=0)


def _timed_train(estimator, input_fn, steps, hooks=()):
  start = time.perf_counter()
  estimator.train(input_fn, steps=steps, hooks=list(hooks))
  return time.perf_counter() - start


def _train(name, input_fn, steps, hooks=(), estimator=None):
  """Trains a fresh Estimator ``steps`` steps; returns the wall time of ``train()``."""
  estimator = estimator or make_estimator(name, tempfile.mkdtemp(prefix='train_throughput_'))
  model_dir = estimator.model_dir
  try:
    return _timed_train(estimator, input_fn, steps, hooks)
  finally:
    shutil.rmtree(model_dir, ignore_errors=True)


# The K that 'auto' chose, one per estimator_rate run.
AUTO_CHOICES = []


def estimator_rate(name, input_fn, warmup, steps):
  """Steady examples/s of estimator.train over the last ``steps`` of ``warmup + steps``."""
  import tensorflow as tf

  estimator = None
  if name == 'auto':  # Its K is chosen (measured) before the timed train(), here.
    estimator = make_estimator(name, tempfile.mkdtemp(prefix='train_throughput_'))
    per_run = estimator.resolve_steps_per_run(input_fn)
    AUTO_CHOICES.append(per_run)
  else:
    per_run = STEPS_PER_RUN[name]

  class RunTimes(tf.compat.v1.train.SessionRunHook):
    def __init__(self):
      self.times = []

    def after_run(self, run_context, run_values):
      self.times.append(_clock())

  hook = RunTimes()
  warmup_runs = -(-warmup // per_run)
  runs = -(-steps // per_run)
  _train(name, input_fn, (warmup_runs + runs + 1) * per_run, [hook], estimator)
  times = hook.times[warmup_runs : warmup_runs + runs + 1]
  return _rates((len(times) - 1) * per_run * BATCH_SIZE, times[0], times[-1])


def fixed_cost(name, input_fn, short, long):
  """Seconds per train() call not explained by its steps: two calls of different lengths.

  Returns ``(first, next)``: ``first`` from calls on fresh model_dirs (a first call: no
  checkpoint to restore, the graph written); ``next`` from further calls of one Estimator
  on one model_dir (what each call of a training loop, or each chunk of ``fit``, costs:
  the graph built again, a session, the checkpoint restored and saved).
  """
  t_short = _train(name, input_fn, short)
  t_long = _train(name, input_fn, long)
  first = t_short - short * (t_long - t_short) / (long - short)
  model_dir = tempfile.mkdtemp(prefix='train_throughput_')
  try:
    estimator = make_estimator(name, model_dir)
    _timed_train(estimator, input_fn, short)
    t_short = _timed_train(estimator, input_fn, short)
    t_long = _timed_train(estimator, input_fn, long)
  finally:
    shutil.rmtree(model_dir, ignore_errors=True)
  return first, t_short - short * (t_long - t_short) / (long - short)


def _load():
  try:
    return os.getloadavg()[0]
  except OSError:
    return float('nan')


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--quick', action='store_true', help='seconds in all, 20k rows')
  parser.add_argument('--rows', type=int, default=200_000)
  parser.add_argument(
    '--repeats',
    type=int,
    default=5,
    help='interleaved repeats; the machine here is noisy, so 5 by default',
  )
  parser.add_argument('--warmup', type=int, default=256)
  parser.add_argument('--steps', type=int, default=3072)
  parser.add_argument(
    '--fixed-steps', default='64,1024', help='the two step counts of the fixed-cost measurement'
  )
  parser.add_argument('--only', default=None, help='comma-separated configurations')
  parser.add_argument(
    '--fixed-configs',
    default=','.join(ESTIMATOR_CONFIGS),
    help='configurations whose fixed cost per train() is measured',
  )
  parser.add_argument('--no-fixed', action='store_true', help='skip the fixed-cost runs')
  args = parser.parse_args(argv)
  if args.quick:
    args.rows, args.repeats, args.warmup, args.steps = 20_000, 1, 32, 64
    args.fixed_steps, args.fixed_configs = '32,64', 'k8'
    args.only = args.only or 'limit,keras_fit,legacy,k1,auto,k8,k32_wrap,k32_fused'  # k32: k8's
  configs = [c for c in CONFIGS if not args.only or c in args.only.split(',')]
  short, long = (int(s) for s in args.fixed_steps.split(','))
  import tensorflow as tf

  tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.ERROR)
  x, y = make_data(args.rows)
  features = feature_dict(x)
  limit = _Limit(x, y) if 'limit' in configs else None
  rates = {name: [] for name in configs}
  cpu_rates = {name: [] for name in configs}
  fixed = {name: [] for name in configs if name in ESTIMATOR_CONFIGS}
  loads = [_load()]
  for repeat in range(args.repeats):
    order = configs[repeat % len(configs) :] + configs[: repeat % len(configs)]
    for name in order:
      if name == 'limit':
        rate, cpu_rate = limit.rate(args.warmup, args.steps)
      elif name == 'keras_fit':
        rate, cpu_rate = keras_fit_rate(x, y, args.warmup, args.steps)
      else:
        input_fn = estimator_input_fn(name, features, y)
        rate, cpu_rate = estimator_rate(name, input_fn, args.warmup, args.steps)
        if not args.no_fixed and name in args.fixed_configs.split(','):
          fixed[name].append(fixed_cost(name, input_fn, short, long))
      rates[name].append(rate)
      cpu_rates[name].append(cpu_rate)
      print(
        'repeat %d  %-9s %9.0f examples/s %9.0f per CPU-s%s  (load %.1f)'
        % (
          repeat,
          name,
          rate,
          cpu_rate,
          '  fixed cost %.2f s (first call %.2f s)' % (fixed[name][-1][1], fixed[name][-1][0])
          if fixed.get(name)
          else '',
          _load(),
        ),
        flush=True,
      )
      loads.append(_load())
  median = {name: float(np.median(values)) for name, values in rates.items()}
  cpu_median = {name: float(np.median(values)) for name, values in cpu_rates.items()}
  fixed_median = {
    name: float(np.median([v[1] for v in values])) for name, values in fixed.items() if values
  }
  first_median = {
    name: float(np.median([v[0] for v in values])) for name, values in fixed.items() if values
  }
  figures = {
    'rows': args.rows,
    'repeats': args.repeats,
    'steps': args.steps,
    'examples_per_s': median,
    'all_examples_per_s': rates,
    'examples_per_cpu_s': cpu_median,
    'all_examples_per_cpu_s': cpu_rates,
    'fixed_cost_s': fixed_median,
    'first_call_fixed_cost_s': first_median,
    'all_fixed_cost_s': fixed,
    'load_average': [min(loads), max(loads)],
    'auto_k': list(AUTO_CHOICES),
  }
  for base in ('limit', 'keras_fit'):
    if base in median:
      figures['ratio_to_' + base] = {name: median[name] / median[base] for name in median}
      figures['cpu_ratio_to_' + base] = {
        name: cpu_median[name] / cpu_median[base] for name in cpu_median
      }
  print(
    '\nSteady examples/s, median of %d interleaved repeats (%d rows x %d float32, MLP '
    '30-128-64-10, Adam, batch %d; load average %.1f-%.1f on %d cores). In brackets: '
    'the same per CPU-second of this process, less sensitive to other load:'
    % (
      args.repeats,
      args.rows,
      NUM_COLUMNS,
      BATCH_SIZE,
      min(loads),
      max(loads),
      os.cpu_count() or 0,
    )
  )
  for name in configs:
    line = '  %-9s %9.0f (%7.0f)' % (name, median[name], cpu_median[name])
    for base in ('limit', 'keras_fit'):
      if 'ratio_to_' + base in figures:
        line += '   %5.2fx (%4.2fx) %s' % (
          figures['ratio_to_' + base][name],
          figures['cpu_ratio_to_' + base][name],
          base,
        )
    if name in fixed_median:
      line += '   fixed cost per train() %.2f s (first call %.2f s)' % (
        fixed_median[name],
        first_median[name],
      )
    if name == 'auto':
      line += '   K chosen: %s' % ', '.join(map(str, AUTO_CHOICES))
    print(line)
  print(
    "  targets: auto (the README's code) >= 0.8x limit (issue 19); best of k8/k32 >= 0.8x "
    'limit and >= 2.5x keras_fit; fixed cost per '
    'train() <= 0.45 s (a further call on a model_dir; the first call, on a fresh '
    'model_dir, also writes the graph and has no checkpoint to restore)'
  )
  return figures


if __name__ == '__main__':
  main(sys.argv[1:])
