"""Placement: devices -> session config and MirroredStrategy; mirrored training for real."""

import json
import os
import subprocess
import sys
import textwrap

import pytest
import tensorflow as tf

from conftest import REPO_ROOT
from conftest import boring_model_fn
import tfest_adapters as tfa
from tfest_adapters import exceptions
from tfest_adapters.estimator import _placement


@pytest.mark.parametrize(
  'devices, expected',
  [
    ('auto', 'auto'),
    ('CPU', 'cpu'),
    (['/gpu:0', 'gpu:1'], ('/device:GPU:0', '/device:GPU:1')),
    (('/cpu',), ('/device:CPU:0',)),
  ],
)
def test_validate_devices_forms(devices, expected):
  assert _placement.validate_devices(devices) == expected


@pytest.mark.parametrize(
  'devices, error, match',
  [
    (
      'gpu',
      exceptions.ArgumentError,
      r"devices must be 'auto', 'cpu' or a list of device names such as \['/gpu:0', '/gpu:1'\], "
      "given: 'gpu'",
    ),
    (2, exceptions.ArgumentTypeError, "devices must be 'auto', 'cpu' or a list.*given: 2"),
    (
      [],
      exceptions.ArgumentError,
      'devices must be a non-empty list of device names, given: '
      r"\[\] \(list\). Use devices='cpu'",
    ),
    (
      ['/gpu:0', '/device:GPU:0'],
      exceptions.ArgumentError,
      'devices must be distinct device names',
    ),
    (['/gpu:0', 1], exceptions.ArgumentTypeError, 'devices must be a list of device name strings'),
    (
      ['nonsense'],
      exceptions.ArgumentError,
      "each device in devices must be a device name with a type, such as '/gpu:0'.*"
      "given: 'nonsense'",
    ),
  ],
)
def test_validate_devices_errors(devices, error, match):
  with pytest.raises(error, match=match):
    _placement.validate_devices(devices)


def test_session_config_soft_placement_memory_growth_and_cpu_only():
  auto = _placement.session_config('auto')
  assert auto.allow_soft_placement and auto.gpu_options.allow_growth
  assert 'GPU' not in auto.device_count
  cpu = _placement.session_config('cpu')
  assert cpu.device_count['GPU'] == 0 and cpu.allow_soft_placement


def test_session_config_keeps_the_base_device_filters():
  base = tf.compat.v1.ConfigProto(device_filters=['/job:ps', '/job:worker/task:1'])
  proto = _placement.session_config('auto', base)
  assert list(proto.device_filters) == ['/job:ps', '/job:worker/task:1']
  assert proto.gpu_options.allow_growth and not base.gpu_options.allow_growth


def test_no_strategy_without_several_gpus_or_on_cpu():
  assert _placement.distribution('auto') is None
  assert _placement.distribution('cpu') is None


def test_a_device_that_does_not_exist_is_named():
  with pytest.raises(
    exceptions.ArgumentError,
    match=r'each device in devices must be one of the visible devices '
    r"\(/device:CPU:0.*given: '/device:CPU:7'.*set_logical_device_configuration",
  ):
    _placement.distribution(['/cpu:0', '/cpu:7'])


def test_cross_device_ops_are_graph_mode_ones_on_cpus():
  ops = _placement.cross_device_ops(('/device:CPU:0', '/device:CPU:1'))
  assert isinstance(ops, tf.distribute.ReductionToOneDevice)


def test_device_list_mirrors_even_over_one_device(tmp_path):
  est = tfa.make_estimator(boring_model_fn, model_dir=tmp_path, devices=['/cpu:0'])
  strategy = est.config.train_distribute
  assert isinstance(strategy, tf.distribute.MirroredStrategy)
  assert est.config.eval_distribute is strategy or isinstance(
    est.config.eval_distribute, tf.distribute.MirroredStrategy
  )
  assert _placement.num_replicas(est) == 1
  assert est.config.session_config.allow_soft_placement


def test_devices_and_a_strategy_in_the_config_clash(tmp_path):
  strategy = tf.distribute.OneDeviceStrategy('/cpu:0')
  with pytest.raises(
    exceptions.ArgumentError, match="devices='cpu' and a train_distribute strategy were both given"
  ):
    tfa.make_estimator(
      boring_model_fn, model_dir=tmp_path, devices='cpu', train_distribute=strategy
    )


def test_in_a_cluster_auto_leaves_placement_to_the_estimator(tmp_path, monkeypatch):
  monkeypatch.setenv(
    'TF_CONFIG',
    json.dumps(
      {
        'cluster': {'chief': ['127.0.0.1:1'], 'worker': ['127.0.0.1:2'], 'ps': ['127.0.0.1:3']},
        'task': {'type': 'worker', 'index': 0},
      }
    ),
  )
  est = tfa.make_estimator(boring_model_fn, model_dir=tmp_path)
  assert est.config.train_distribute is None
  # The cluster role's device filters survive; soft placement and memory growth are added.
  assert list(est.config.session_config.device_filters) == ['/job:ps', '/job:worker/task:0']
  assert est.config.session_config.gpu_options.allow_growth
  with pytest.raises(
    exceptions.ArgumentError, match="devices must be 'auto' or 'cpu' in a TF_CONFIG cluster"
  ):
    tfa.make_estimator(boring_model_fn, model_dir=tmp_path, devices=['/cpu:0'])


_MIRRORED_SCRIPT = textwrap.dedent("""
    import json, os, sys
    os.environ['TF_CPP_MIN_LOG_LEVEL'] = '2'
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices('CPU')[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    sys.path.insert(0, sys.argv[2])
    from conftest import boring_model_fn
    import tfest_adapters as tfa
    from tfest_adapters.estimator import _placement

    workdir = sys.argv[1]
    rng = np.random.RandomState(0)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = np.argmax(x[:, :3], axis=1).astype(np.int64)
    features = {'f%d' % i: x[:, i] for i in range(4)}

    def input_fn(batch_size, repeat):
      def fn():
        ds = tf.data.Dataset.from_tensor_slices((features, y))
        return (ds.repeat() if repeat else ds).batch(batch_size)
      return fn

    # Both runs start from the same weights (op seeds differ between graphs built with and
    # without a strategy, so the same graph seed is not enough).
    init = tfa.make_estimator(boring_model_fn, params={'learning_rate': 0.0},
                              model_dir=os.path.join(workdir, 'init'), seed=0)
    init.train(input_fn(16, True), steps=1)
    out = {}
    for name, devices, batch_size in (('single', 'cpu', 16),
                                      ('mirrored', ['/cpu:0', '/cpu:1'], 8)):
      est = tfa.make_estimator(boring_model_fn, params={}, seed=0, devices=devices,
                               model_dir=os.path.join(workdir, name),
                               warm_start_from=init.model_dir)
      history = tfa.fit(est, input_fn(batch_size, True), steps=20, progress=False)
      metrics = est.evaluate(input_fn(batch_size, False))
      # One pass over the 64 rows, no repeat: steps per epoch tell the global batch.
      before = int(est.get_variable_value('global_step'))
      est.train(input_fn(batch_size, False))
      out[name] = dict(
          replicas=_placement.num_replicas(est), last_train_loss=float(history['loss'].iloc[-1]),
          eval_loss=float(metrics['loss']), eval_accuracy=float(metrics['accuracy']),
          global_step=int(metrics['global_step']),
          steps_per_epoch=int(est.get_variable_value('global_step')) - before,
          kernel=est.get_variable_value('logits/kernel').tolist())
    print('RESULT ' + json.dumps(out))
""")


@pytest.mark.slow
def test_mirrored_on_two_logical_cpus_trains_like_one_device(tmp_path):
  """A fresh process (logical devices must be set before TF starts), with a timeout."""
  script = tmp_path / 'mirrored.py'
  script.write_text(_MIRRORED_SCRIPT)
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2', PYTHONPATH=str(REPO_ROOT))
  env.pop('TF_CONFIG', None)
  proc = subprocess.run(
    [sys.executable, str(script), str(tmp_path), str(REPO_ROOT / 'tests')],
    capture_output=True,
    text=True,
    timeout=300,
    env=env,
  )
  assert proc.returncode == 0, proc.stderr[-3000:]
  line = [out for out in proc.stdout.splitlines() if out.startswith('RESULT ')][-1]
  result = json.loads(line[len('RESULT ') :])
  single, mirrored = result['single'], result['mirrored']
  assert (single['replicas'], mirrored['replicas']) == (1, 2)
  assert single['global_step'] == mirrored['global_step'] == 20
  # Per-replica batch 8 on 2 replicas trains like a batch of 16 on one device ...
  assert mirrored['eval_loss'] == pytest.approx(single['eval_loss'], rel=1e-4)
  assert mirrored['last_train_loss'] == pytest.approx(single['last_train_loss'], rel=1e-4)
  assert mirrored['eval_accuracy'] == pytest.approx(single['eval_accuracy'])
  for a, b in zip(sum(single['kernel'], []), sum(mirrored['kernel'], [])):
    assert a == pytest.approx(b, rel=1e-3, abs=1e-5)
  # ... and a step takes one batch per replica: 64 rows / (8 * 2) = 4 steps per epoch.
  assert single['steps_per_epoch'] == mirrored['steps_per_epoch'] == 4
