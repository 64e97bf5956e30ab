"""Train, evaluate, export and serve a classifier on a CSV file: a script to copy and adapt.

The same job as ``examples/iris.ipynb``, as a plain script. With no arguments it trains the
TensorFlow guide's Iris classifier (two hidden layers of 10 units) on the data shipped in
``data/``::

  python examples/train_script.py
  python examples/train_script.py --steps 2000 --model-dir runs/iris --seed 0
  python examples/train_script.py --train my_train.csv --eval my_test.csv --label target

Every column but the label must be numeric; the label holds class ids 0..n_classes-1. It
prints the test metrics, writes ``history.csv`` and ``history.png`` into the model_dir,
exports a SavedModel and predicts the first test rows with a ``Predictor``.
"""

import argparse
import datetime
import os
import pathlib
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import pandas as pd  # noqa: E402
import tensorflow as tf  # noqa: E402

import tfest_adapters as tfa  # noqa: E402

DATA_DIR = pathlib.Path(__file__).resolve().parents[1] / 'data'


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument(
    '--train',
    default=str(DATA_DIR / 'iris_training.csv'),
    help='training CSV with a header line (default: the shipped Iris rows)',
  )
  parser.add_argument(
    '--eval', default=str(DATA_DIR / 'iris_test.csv'), help='evaluation CSV with the same columns'
  )
  parser.add_argument('--label', default='Species', help='the label column (default: Species)')
  parser.add_argument('--steps', type=int, default=1000, help='training steps (default: 1000)')
  parser.add_argument('--batch-size', type=int, default=32, help='batch size (default: 32)')
  parser.add_argument(
    '--eval-every',
    type=int,
    default=None,
    help='evaluate every this many steps (default: a quarter of --steps)',
  )
  parser.add_argument(
    '--model-dir',
    default=None,
    help='where checkpoints go (default: a new runs/train-script-<time>)',
  )
  parser.add_argument('--seed', type=int, default=0, help='random seed (default: 0)')
  parser.add_argument('--no-progress', action='store_true', help='no progress bar')
  args = parser.parse_args(argv)
  if args.steps <= 0 or args.batch_size <= 0:
    parser.error(
      '--steps and --batch-size must be positive ints, given: %d and %d'
      % (args.steps, args.batch_size)
    )
  if args.eval_every is None:
    args.eval_every = max(args.steps // 4, 1)
  elif args.eval_every <= 0:
    parser.error('--eval-every must be a positive int, given: %d' % args.eval_every)
  return args


def main(argv=None):
  args = parse_args(argv)
  tf.get_logger().setLevel('ERROR')  # TensorFlow's INFO lines and deprecation warnings off.
  model_dir = args.model_dir or os.path.join(
    'runs', 'train-script-' + datetime.datetime.now().strftime('%Y%m%d-%H%M%S')
  )

  # The data: every column but the label is a numeric feature.
  train = pd.read_csv(args.train)
  test = pd.read_csv(args.eval)
  y_train, y_test = train.pop(args.label), test.pop(args.label)
  n_classes = int(max(y_train.max(), y_test.max())) + 1

  # input_fns: TRAIN shuffles and repeats; EVAL and PREDICT make one ordered pass.
  train_input_fn = tfa.tensor_slices_input_fn(
    train, y_train, batch_size=args.batch_size, shuffle=True, seed=args.seed
  )
  test_input_fn = tfa.tensor_slices_input_fn(test, y_test, batch_size=args.batch_size)

  # A model_fn template in a real tf.estimator.Estimator.
  estimator = tfa.make_estimator(
    tfa.classifier_model_fn,
    params=dict(
      feature_keys=list(train.columns),
      hidden_units=[10, 10],
      n_classes=n_classes,
      optimizer='Adagrad',
      learning_rate=0.1,
    ),
    model_dir=model_dir,
    seed=args.seed,
  )
  print('model_dir:', model_dir)

  # Train with a progress bar, evaluating every --eval-every steps; keep the history.
  history = tfa.fit(
    estimator,
    train_input_fn,
    max_steps=args.steps,
    eval_input_fn=test_input_fn,
    eval_every_steps=args.eval_every,
    progress=not args.no_progress,
  )
  history.to_csv(os.path.join(model_dir, 'history.csv'))
  history.plot().savefig(os.path.join(model_dir, 'history.png'))

  metrics = estimator.evaluate(test_input_fn)
  print('test metrics:', ', '.join('%s %.4g' % kv for kv in sorted(metrics.items())))

  # Export a SavedModel (checked against the Estimator) and serve it with a Predictor.
  rows = test[:5]
  export_dir = tfa.export_saved_model(
    estimator, os.path.join(model_dir, 'export'), sample_features=rows
  )
  predictions = tfa.Predictor.from_saved_model(export_dir)(rows)
  print('SavedModel:', export_dir)
  for class_id, probabilities, expected in zip(
    predictions[tfa.PredictionKeys.CLASS_IDS].reshape(-1),
    predictions[tfa.PredictionKeys.PROBABILITIES],
    y_test[:5],
  ):
    print(
      'predicted class %d (%.1f%%), expected %d'
      % (class_id, 100 * probabilities[class_id], expected)
    )
  print('TensorBoard: tensorboard --logdir %s' % model_dir)
  return 0


if __name__ == '__main__':
  sys.exit(main())
