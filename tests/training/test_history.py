"""History and read_history: one frame layout, from fit's records or from event files."""

import io

import numpy as np
import pandas as pd
import pytest

from conftest import boring_input_fn
from conftest import boring_model_fn
import tfest_adapters as tfa
from tfest_adapters import exceptions
from tfest_adapters.training import _history


def _history_from_records():
  return tfa.History.from_records(
    [1, 2, 3, 4],
    [1.0, 0.8, 0.6, 0.5],
    [10.0, 11.0, 12.0, 13.0],
    [
      (2, 11.5, {'loss': 0.7, 'accuracy': 0.5, 'global_step': 2}, None),
      (4, 13.5, {'loss': 0.55, 'accuracy': np.float32(0.75), 'global_step': 4}, None),
      (4, 13.6, {'loss': 0.6}, 'test'),
    ],
    best_step=4,
  )


def test_from_records_merges_train_and_eval_rows_by_step():
  history = _history_from_records()
  assert list(history.columns) == [
    'step',
    'wall_time',
    'loss',
    'eval_loss',
    'eval_accuracy',
    'eval_test_loss',
  ]
  assert list(history['step']) == [1, 2, 3, 4]
  assert history['step'].dtype == np.int64
  assert list(history.eval['step']) == [2, 4]
  assert history.eval['eval_accuracy'].tolist() == [0.5, 0.75]
  assert np.isnan(history.frame.loc[0, 'eval_loss'])
  assert history.eval_columns == ['eval_loss', 'eval_accuracy', 'eval_test_loss']
  assert history.best_step == 4


def test_dataframe_behaviour_is_delegated():
  history = _history_from_records()
  assert len(history) == 4
  assert history.loss.tolist() == [1.0, 0.8, 0.6, 0.5]
  assert history.tail(1)['step'].item() == 4
  assert 'loss' in history and 'nope' not in history
  assert isinstance(history.frame, pd.DataFrame)
  assert 'History(4 rows, best_step=4)' in repr(history)
  with pytest.raises(AttributeError):
    history._private  # noqa: B018


def test_to_csv_round_trips(tmp_path):
  history = _history_from_records()
  path = tmp_path / 'h.csv'
  history.to_csv(path)
  back = pd.read_csv(path)
  pd.testing.assert_frame_equal(back, history.frame, check_dtype=False)
  assert history.to_csv().splitlines()[0] == ','.join(history.columns)


def test_plot_draws_loss_and_each_metric(tmp_path):
  history = _history_from_records()
  figure = history.plot()
  from matplotlib.figure import Figure

  assert isinstance(figure, Figure)
  axes = figure.axes
  assert [ax.get_ylabel() for ax in axes] == ['loss', 'accuracy']
  labels = [line.get_label() for line in axes[0].get_lines()]
  assert labels[:3] == ['train loss', 'eval loss', 'eval test loss']
  np.testing.assert_array_equal(axes[0].get_lines()[0].get_ydata(), [1.0, 0.8, 0.6, 0.5])
  buffer = io.BytesIO()
  figure.savefig(buffer, format='png')
  assert buffer.getvalue()[:4] == b'\x89PNG'


def test_empty_history_has_the_columns():
  history = tfa.History()
  assert list(history.columns) == ['step', 'wall_time', 'loss'] and len(history) == 0
  assert len(history.eval) == 0
  assert history.plot().axes[0].get_ylabel() == 'loss'


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  """A model_dir with a loss summary every step and two evaluations, written by fit."""
  rng = np.random.RandomState(0)
  x = rng.normal(size=(64, 4)).astype(np.float32)
  y = np.argmax(x[:, :3], axis=1).astype(np.int64)
  features = {'f%d' % i: x[:, i] for i in range(4)}
  est = tfa.make_estimator(
    boring_model_fn,
    params={},
    seed=0,
    save_summary_steps=1,
    model_dir=str(tmp_path_factory.mktemp('hist') / 'm'),
  )
  evaluation = boring_input_fn(features, y, batch_size=64, repeat=False)
  history = tfa.fit(
    est,
    boring_input_fn(features, y),
    max_steps=8,
    eval_input_fn=evaluation,
    eval_every_steps=4,
    progress=False,
  )
  est.evaluate(evaluation, name='test')
  return est, history


def test_read_history_is_the_same_as_fit_s(trained):
  est, fitted = trained
  read = tfa.read_history(est.model_dir)
  assert read.model_dir == est.model_dir
  # Same steps for the same losses (the loss of the first batch is step 1 in both).
  train = read.train
  assert list(train['step']) == list(range(1, 9))
  np.testing.assert_allclose(train['loss'], fitted.train['loss'], rtol=1e-6)
  assert list(read.eval['step']) == [4, 8]
  np.testing.assert_allclose(read.eval['eval_loss'], fitted.eval['eval_loss'], rtol=1e-6)
  np.testing.assert_allclose(read.eval['eval_accuracy'], fitted.eval['eval_accuracy'])
  # The named evaluation, of the same final checkpoint.
  assert read.eval['eval_test_loss'].dropna().tolist() == pytest.approx(
    [fitted.eval['eval_loss'].iloc[-1]], rel=1e-6
  )


@pytest.mark.parametrize(
  'subdirectory, match',
  [
    ('missing', "model_dir must be an existing directory, given: '.*missing'"),
    (
      '',
      r'model_dir must be a model_dir with event files \(events.out.tfevents.\*\), '
      r"given: '.*'. Has it been trained",
    ),
  ],
  ids=['missing', 'without_event_files'],
)
def test_read_history_refuses_a_model_dir_without_history(tmp_path, subdirectory, match):
  with pytest.raises(exceptions.ArgumentError, match=match):
    tfa.read_history(tmp_path / subdirectory if subdirectory else tmp_path)


def test_scalar_conversion():
  assert _history.scalar_value(np.float32(0.5)) == 0.5
  assert _history.scalar_value(np.array([1.0, 2.0])) is None
  assert _history.scalar_value(b'text') is None
