"""The main job: the TensorFlow guide's custom Estimator on Iris, offline, end to end.

Run it with ``make demo`` or ``python -m tfest_adapters.demo [--steps N] [--model-dir DIR]
[--seed S]``. It reads the Iris split shipped in ``data/`` (120 training rows, 30 test rows),
trains the guide's network (two hidden layers of 10 units, 3 classes) through the project's
public API only (an input_fn builder, the classifier model_fn template and
``make_estimator``), evaluates on the test rows, predicts the guide's three examples, exports
a SavedModel, loads it back and checks that it predicts what the Estimator predicts.

It exits with status 1 when the test accuracy is below ``--min-accuracy`` (0.9 by default) or
when the export does not reproduce the Estimator.
"""

import argparse
import datetime
import os
import pathlib
import sys

CLASS_NAMES = ('Setosa', 'Versicolor', 'Virginica')
FEATURE_KEYS = ('SepalLength', 'SepalWidth', 'PetalLength', 'PetalWidth')
LABEL_KEY = 'Species'

# The three examples the TensorFlow guide predicts, and the classes it expects.
GUIDE_EXAMPLES = {
  'SepalLength': [5.1, 5.9, 6.9],
  'SepalWidth': [3.3, 3.0, 3.1],
  'PetalLength': [1.7, 4.2, 5.4],
  'PetalWidth': [0.5, 1.5, 2.1],
}
GUIDE_EXPECTED = ('Setosa', 'Versicolor', 'Virginica')

DEFAULT_DATA_DIR = pathlib.Path(__file__).resolve().parents[1] / 'data'


def load_iris(path):
  """Reads one of the shipped Iris CSVs into (features dict of float32, int64 labels)."""
  import numpy as np
  import pandas as pd

  frame = pd.read_csv(path)
  features = {k: frame[k].to_numpy(np.float32) for k in FEATURE_KEYS}
  return features, frame[LABEL_KEY].to_numpy(np.int64)


def run(
  steps=2000,
  model_dir=None,
  seed=0,
  data_dir=DEFAULT_DATA_DIR,
  batch_size=32,
  progress=True,
  out=sys.stdout,
):
  """Trains, evaluates, predicts and exports; returns a dict of what it measured.

  Args:
    steps: training steps (max_steps in model_dir).
    model_dir: where checkpoints and the export go; a new ``runs/iris-<time>`` if None.
    seed: seeds the graph, Keras and the data order.
    data_dir: folder holding ``iris_training.csv`` and ``iris_test.csv``.
    batch_size: training batch size.
    progress: show a progress bar while training.
    out: where the report is printed.

  Returns:
    dict with ``model_dir``, ``accuracy``, ``loss``, ``predictions`` (class names of the guide
    examples), ``probabilities``, ``export_dir`` and ``export_max_abs_diff``.
  """
  import numpy as np

  import tfest_adapters as tfa

  def say(*args):
    print(*args, file=out, flush=True)

  data_dir = pathlib.Path(data_dir)
  train_x, train_y = load_iris(data_dir / 'iris_training.csv')
  test_x, test_y = load_iris(data_dir / 'iris_test.csv')
  if model_dir is None:
    model_dir = os.path.join('runs', 'iris-' + datetime.datetime.now().strftime('%Y%m%d-%H%M%S'))
  say('model_dir: %s' % model_dir)

  estimator = tfa.make_estimator(
    tfa.classifier_model_fn,
    params=dict(
      feature_keys=list(FEATURE_KEYS),
      hidden_units=[10, 10],
      n_classes=3,
      optimizer='Adagrad',
      learning_rate=0.1,
    ),
    model_dir=model_dir,
    seed=seed,
  )

  # TRAIN shuffles and repeats; EVAL and PREDICT make one ordered pass (mode-aware builder).
  train_input_fn = tfa.tensor_slices_input_fn(
    train_x, train_y, batch_size=batch_size, shuffle=True, seed=seed
  )
  test_input_fn = tfa.tensor_slices_input_fn(test_x, test_y, batch_size=batch_size)

  tfa.fit(estimator, train_input_fn, max_steps=steps, progress=progress)
  metrics = estimator.evaluate(test_input_fn)
  accuracy = float(metrics[tfa.MetricKeys.ACCURACY])
  loss = float(metrics[tfa.MetricKeys.LOSS])
  say(
    '\nTest set accuracy: %.3f, loss: %.4f (%d test rows, global step %d)'
    % (accuracy, loss, len(test_y), metrics['global_step'])
  )

  guide_x = {k: np.asarray(v, np.float32) for k, v in GUIDE_EXAMPLES.items()}
  predictions = list(estimator.predict(tfa.tensor_slices_input_fn(guide_x, batch_size=3)))
  names, probabilities = [], []
  for prediction, expected in zip(predictions, GUIDE_EXPECTED):
    class_id = int(prediction[tfa.PredictionKeys.CLASS_IDS][0])
    probability = float(prediction[tfa.PredictionKeys.PROBABILITIES][class_id])
    names.append(CLASS_NAMES[class_id])
    probabilities.append(probability)
    say(
      'Prediction is "%s" (%.1f%%), expected "%s"'
      % (CLASS_NAMES[class_id], 100 * probability, expected)
    )

  export_dir = tfa.export_saved_model(
    estimator, os.path.join(model_dir, 'export'), sample_features=guide_x
  )
  served = tfa.Predictor.from_saved_model(export_dir)(guide_x)
  estimator_probs = np.stack([p[tfa.PredictionKeys.PROBABILITIES] for p in predictions])
  diff = float(np.max(np.abs(served[tfa.PredictionKeys.PROBABILITIES] - estimator_probs)))
  same_classes = bool(
    np.array_equal(
      served[tfa.PredictionKeys.CLASS_IDS].reshape(-1),
      [int(p[tfa.PredictionKeys.CLASS_IDS][0]) for p in predictions],
    )
  )
  say(
    'SavedModel: %s\n  loaded back: same classes: %s, max |probability difference| to the '
    'Estimator: %.2g' % (export_dir, same_classes, diff)
  )
  return dict(
    model_dir=model_dir,
    accuracy=accuracy,
    loss=loss,
    predictions=names,
    probabilities=probabilities,
    export_dir=export_dir,
    export_max_abs_diff=diff if same_classes else float('inf'),
  )


def main(argv=None):
  parser = argparse.ArgumentParser(
    prog='python -m tfest_adapters.demo',
    description="The TensorFlow guide's custom Estimator on the shipped Iris data.",
  )
  parser.add_argument('--steps', type=int, default=2000, help='training steps (default 2000)')
  parser.add_argument(
    '--model-dir',
    default=None,
    help='checkpoints and export go here (default: a new runs/iris-<time>)',
  )
  parser.add_argument('--seed', type=int, default=0, help='random seed (default 0)')
  parser.add_argument(
    '--data-dir',
    default=str(DEFAULT_DATA_DIR),
    help='folder with iris_training.csv and iris_test.csv',
  )
  parser.add_argument(
    '--min-accuracy',
    type=float,
    default=0.9,
    help='exit with status 1 below this test accuracy (default 0.9)',
  )
  parser.add_argument('--no-progress', action='store_true', help='no progress bar')
  args = parser.parse_args(argv)
  if args.steps <= 0:
    parser.error('--steps must be a positive int, given: %d' % args.steps)

  # A job's console, not a library's: keep TensorFlow's C++ start-up chatter (cuDNN/cuFFT
  # factory registration on a machine without a GPU) and its deprecation notices out of it.
  from tfest_adapters import console

  console.set_cpp_log_level(3)
  import tensorflow as tf

  tf.get_logger().setLevel('ERROR')
  result = run(
    steps=args.steps,
    model_dir=args.model_dir,
    seed=args.seed,
    data_dir=args.data_dir,
    progress=not args.no_progress,
  )
  failures = []
  if result['accuracy'] < args.min_accuracy:
    failures.append(
      'test accuracy %.3f is below --min-accuracy %.2f' % (result['accuracy'], args.min_accuracy)
    )
  if result['export_max_abs_diff'] > 1e-5:
    failures.append(
      'the exported SavedModel does not reproduce the Estimator '
      '(max |diff| %.3g)' % result['export_max_abs_diff']
    )
  for failure in failures:
    print('error: ' + failure, file=sys.stderr)
  return 1 if failures else 0


if __name__ == '__main__':
  sys.exit(main())
