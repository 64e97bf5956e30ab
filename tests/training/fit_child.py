"""A training process for the reliability tests (crash, signals, lock): fit() on tiny data.

Run as ``python tests/training/fit_child.py --model-dir DIR --max-steps N [...]``. It prints,
one per line and flushed, so that a test can follow it:

* ``start S``: the global step of model_dir's checkpoint before fit (0 when none);
* ``step N``: after every training step with ``--print-steps`` (the global step it reached);
* ``done N`` and ``history <json>`` (the History's steps and losses) when fit returns;
* ``refused <message>`` (exit 3) when fit raises ModelDirError (e.g. the model_dir lock);
* ``interrupted <message>`` (exit 130) on KeyboardInterrupt.

``--step-delay`` sleeps in every step (in a hook), so that a test can kill or signal it
while it trains.
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from conftest import boring_input_fn  # noqa: E402
from conftest import boring_model_fn  # noqa: E402
import tfest_adapters as tfa  # noqa: E402
from tfest_adapters import exceptions  # noqa: E402
from tfest_adapters.training import _checkpoints  # noqa: E402


def data():
  rng = np.random.RandomState(0)
  x = rng.normal(size=(64, 4)).astype(np.float32)
  y = np.argmax(x[:, :3], axis=1).astype(np.int64)
  return {'f%d' % i: x[:, i] for i in range(4)}, y


class StepHook(tf.compat.v1.train.SessionRunHook):
  """Sleeps in every step and prints the global step each one reached."""

  def __init__(self, delay, print_steps):
    self.delay = delay
    self.print_steps = print_steps

  def begin(self):
    self.global_step = tf.compat.v1.train.get_global_step()

  def before_run(self, run_context):
    if self.delay:
      time.sleep(self.delay)

  def after_run(self, run_context, run_values):
    if self.print_steps:
      print('step %d' % run_context.session.run(self.global_step), flush=True)


def main(argv=None):
  parser = argparse.ArgumentParser()
  parser.add_argument('--model-dir', required=True)
  parser.add_argument('--max-steps', type=int, required=True)
  parser.add_argument('--save-steps', type=int, default=10)
  parser.add_argument('--step-delay', type=float, default=0.0)
  parser.add_argument('--print-steps', action='store_true')
  parser.add_argument('--evaluate', action='store_true')
  args = parser.parse_args(argv)
  tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.ERROR)

  features, labels = data()
  estimator = tfa.make_estimator(
    boring_model_fn,
    params={},
    model_dir=args.model_dir,
    seed=0,
    save_checkpoints_steps=args.save_steps,
    save_summary_steps=1,
    log_step_count_steps=None,
  )
  print('start %d' % _checkpoints.checkpoint_step(args.model_dir)[0], flush=True)
  try:
    history = tfa.fit(
      estimator,
      boring_input_fn(features, labels),
      max_steps=args.max_steps,
      hooks=[StepHook(args.step_delay, args.print_steps)],
      progress=False,
    )
  except exceptions.ModelDirError as e:
    print('refused %s' % e, flush=True)
    return 3
  except KeyboardInterrupt as e:
    print('interrupted %s' % e, flush=True)
    return 130
  print('done %d' % _checkpoints.checkpoint_step(args.model_dir)[0], flush=True)
  print(
    'history %s'
    % json.dumps(
      {'step': [int(s) for s in history['step']], 'loss': [float(v) for v in history['loss']]}
    ),
    flush=True,
  )
  if args.evaluate:
    metrics = estimator.evaluate(boring_input_fn(features, labels, batch_size=64, repeat=False))
    print('evaluated %s' % json.dumps({k: float(v) for k, v in metrics.items()}), flush=True)
  return 0


if __name__ == '__main__':
  sys.exit(main())
