"""Linear, DNN and wide-and-deep models on the census-like table, compared in one plot.

The table is ``data/census_*.csv`` (made by ``data/make_census.py``, no download): numbers
(age, hours) and string categories (education, occupation, ...), income as class names. The
three templates train on the same DataFrames, with the same seed, data order and steps;
their histories (train loss, eval loss, accuracy, AUC)
are drawn in one figure::

  python examples/census.py
  python examples/census.py --steps 2000 --out runs/census

It prints each model's final metrics and writes ``histories.png`` and ``histories.csv``.
"""

import argparse
import os
import pathlib
import tempfile

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import pandas as pd  # noqa: E402
import tensorflow as tf  # noqa: E402

import tfest_adapters as tfa  # noqa: E402

DATA_DIR = pathlib.Path(__file__).resolve().parents[1] / 'data'
LABEL = 'income'
CLASSES = ['<=50K', '>50K']
METRICS = ['loss', 'accuracy', 'auc']


def load():
  """((train_x, train_y), (test_x, test_y)): DataFrames of features, Series of class names."""
  numbers = {'age': 'float32', 'hours_per_week': 'float32'}
  train = pd.read_csv(DATA_DIR / 'census_train.csv', dtype=numbers)
  test = pd.read_csv(DATA_DIR / 'census_test.csv', dtype=numbers)
  return (train.drop(columns=[LABEL]), train[LABEL]), (test.drop(columns=[LABEL]), test[LABEL])


def columns(train_x):
  """The columns of each part: categories as they are for the linear model, crossed; dense
  columns (numbers, embeddings, one-hot) for the DNN."""
  fc = tf.feature_column
  categorical = {
    name: fc.categorical_column_with_vocabulary_list(name, sorted(train_x[name].unique()))
    for name in ['workclass', 'education', 'occupation', 'marital_status', 'sex']
  }
  age = fc.numeric_column('age')
  age_buckets = fc.bucketized_column(age, [25, 30, 35, 40, 45, 50, 55, 60, 65])
  wide = list(categorical.values()) + [
    age_buckets,
    fc.crossed_column(['education', 'occupation'], 100),
    fc.crossed_column([age_buckets, 'marital_status'], 50),
  ]
  deep = [
    fc.numeric_column('age', normalizer_fn=lambda x: (x - 39.0) / 13.0),
    fc.numeric_column('hours_per_week', normalizer_fn=lambda x: (x - 40.0) / 12.0),
    fc.embedding_column(categorical['occupation'], 4),
    fc.embedding_column(categorical['education'], 4),
    fc.indicator_column(categorical['workclass']),
    fc.indicator_column(categorical['marital_status']),
    fc.indicator_column(categorical['sex']),
  ]
  return wide, deep


def models(wide, deep, steps_per_run):
  common = dict(label_vocabulary=CLASSES, steps_per_run=steps_per_run)
  return {
    'linear': (tfa.linear_classifier_model_fn, dict(feature_columns=wide, **common)),
    'dnn': (
      tfa.classifier_model_fn,
      dict(feature_columns=deep, hidden_units=[32, 16], learning_rate=0.05, **common),
    ),
    'wide_deep': (
      tfa.wide_deep_classifier_model_fn,
      dict(
        linear_feature_columns=wide,
        dnn_feature_columns=deep,
        dnn_hidden_units=[32, 16],
        dnn_learning_rate=0.05,
        **common,
      ),
    ),
  }


def plot(histories, path=None):
  """One figure: a row per metric, a line per model (train loss dashed); saved to ``path``.

  Returns the ``matplotlib.figure.Figure`` (a notebook shows it).
  """
  from matplotlib.figure import Figure

  figure = Figure(figsize=(7, 8), layout='constrained')
  axes = figure.subplots(len(METRICS), 1, sharex=True)
  for name, history in histories.items():
    evals = history.eval
    line = axes[0].plot(evals['step'], evals['eval_loss'], 'o-', markersize=3, label=name)[0]
    train = history.train
    axes[0].plot(train['step'], train['loss'], '--', linewidth=0.8, color=line.get_color())
    for ax, metric in zip(axes[1:], METRICS[1:]):
      ax.plot(evals['step'], evals['eval_' + metric], 'o-', markersize=3, label=name)
  for ax, metric in zip(axes, METRICS):
    ax.set_ylabel(metric)
    ax.legend(loc='best')
  axes[0].set_title('census-like table: eval (points) and train loss (dashed)')
  axes[-1].set_xlabel('global step')
  if path is not None:
    figure.savefig(path, dpi=100)
  return figure


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--steps', type=int, default=1500, help='training steps (default: 1500)')
  parser.add_argument('--eval-every', type=int, default=None, help='default: a fifth of --steps')
  parser.add_argument(
    '--steps-per-run',
    type=int,
    default=1,
    help='default: 1 (more is slower for these models here: docs/templates.md)',
  )
  parser.add_argument('--out', default=None, help='where model_dirs and plots go (default: tmp)')
  parser.add_argument('--seed', type=int, default=0)
  parser.add_argument('--no-progress', action='store_true')
  args = parser.parse_args(argv)
  out = pathlib.Path(args.out or tempfile.mkdtemp(prefix='census-'))
  (train_x, train_y), (test_x, test_y) = load()
  train_fn = tfa.pandas_input_fn(
    train_x, train_y, batch_size=64, num_epochs=None, shuffle=True, seed=args.seed
  )
  test_fn = tfa.pandas_input_fn(test_x, test_y, batch_size=400, shuffle=False)
  histories = {}
  for name, (model_fn, params) in models(*columns(train_x), args.steps_per_run).items():
    estimator = tfa.make_estimator(model_fn, params=params, model_dir=out / name, seed=args.seed)
    histories[name] = tfa.fit(
      estimator,
      train_fn,
      steps=args.steps,
      eval_input_fn=test_fn,
      eval_every_steps=args.eval_every or max(1, args.steps // 5),
      progress=not args.no_progress,
    )
    last = histories[name].eval.iloc[-1]
    print(
      '%-9s step %d: %s'
      % (name, last['step'], ', '.join('%s %.4f' % (m, last['eval_' + m]) for m in METRICS))
    )
  plot(histories, out / 'histories.png')
  pd.concat([h.frame.assign(model=n) for n, h in histories.items()]).to_csv(
    out / 'histories.csv', index=False
  )
  print('wrote %s and %s' % (out / 'histories.png', out / 'histories.csv'))
  return histories


if __name__ == '__main__':
  main()
