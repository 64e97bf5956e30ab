"""The quiet console: what `import tfest_adapters` hides of TensorFlow, and the switch back."""

import os
import subprocess
import sys

import pytest

from tfest_adapters import console

# A script that imports TensorFlow through tfest_adapters, triggers one deprecation notice of
# the chosen API (RunConfig), one of another API (tf.compat.v1.to_float's), logs a warning of
# its own through TF's logger, and marks where its output ends.
_SCRIPT = """
import tfest_adapters as tfa
{before}
import tensorflow as tf
tf.estimator.RunConfig()
with tf.Graph().as_default():
  tf.compat.v1.to_float(tf.constant(1))
tf.get_logger().warning('a warning of its own')
print('done', flush=True)
"""


def _run(before='', **env):
  environ = {
    k: v for k, v in os.environ.items() if k not in ('TF_CPP_MIN_LOG_LEVEL', 'TFEST_VERBOSE')
  }
  environ.update(env)
  proc = subprocess.run(
    [sys.executable, '-c', _SCRIPT.format(before=before)],
    env=environ,
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert proc.returncode == 0, proc.stderr
  return proc.stdout + proc.stderr


_RUN_CONFIG_NOTICE = 'RunConfig.__init__ (from tensorflow_estimator'
_OTHER_NOTICE = 'to_float (from tensorflow.python.ops.math_ops) is deprecated'
_CUDA_LINE = 'Unable to register cuDNN factory'
_CPP_INFO_LINE = 'oneDNN custom operations are on'


def test_quiet_by_default_hides_the_chosen_api_and_cpp_noise_only():
  out = _run()
  assert _RUN_CONFIG_NOTICE not in out
  assert _CUDA_LINE not in out and 'TF-TRT Warning' not in out and _CPP_INFO_LINE not in out
  assert _OTHER_NOTICE in out  # A deprecation of another API still shows,
  assert 'WARNING:tensorflow:a warning of its own' in out  # and any other warning.
  assert 'done' in out


@pytest.mark.parametrize(
  'before, env',
  [
    ('', {'TFEST_VERBOSE': '1'}),
    ('tfa.verbose_logging()', {}),
  ],
  ids=['TFEST_VERBOSE=1', 'verbose_logging()'],
)
def test_the_switch_brings_everything_back(before, env):
  out = _run(before, **env)
  assert _RUN_CONFIG_NOTICE in out and _OTHER_NOTICE in out
  assert _CUDA_LINE in out and _CPP_INFO_LINE in out


def test_a_users_own_cpp_log_level_is_kept():
  out = _run(TF_CPP_MIN_LOG_LEVEL='0')
  assert _CPP_INFO_LINE in out
  assert _CUDA_LINE not in out and _RUN_CONFIG_NOTICE not in out


def _notice(module, name='Foo.__init__'):
  return (
    'From /x/y.py:3: %s (from %s) is deprecated and will be removed in a future version.\n'
    'Instructions for updating:\nUse tf.keras instead.' % (name, module)
  )


@pytest.mark.parametrize(
  'message, hidden',
  [
    (_notice('tensorflow_estimator.python.estimator.estimator', 'Estimator.__init__'), True),
    (_notice('tensorflow.python.training.basic_session_run_hooks', 'StopAtStepHook'), True),
    (_notice('tensorflow.python.feature_column.feature_column_v2', 'numeric_column'), True),
    (_notice('tensorflow.python.saved_model.model_utils.export_output'), True),
    (_notice('tensorflow.python.saved_model.loader_impl', 'load'), True),
    (_notice('tensorflow.python.ops.init_ops', 'calling Constant.__init__'), True),
    (_notice('tensorflow.python.checkpoint.checkpoint_management', 'remove_checkpoint'), True),
    (_notice('tensorflow.python.ops.math_ops', 'to_float'), False),
    (_notice('keras.src.engine.training'), False),
    ('Training with estimator made no steps (from tensorflow_estimator.x)', False),
    ('Passing a `GraphDef` to the SummaryWriter is deprecated.', False),
    (
      'It seems that global step (tf.train.get_global_step) has not been increased. Current '
      'value (could be stable): 4 vs previous value: 4. You could increase the global step',
      True,
    ),
    ('The global step did not advance in 5 training steps', False),
  ],
)
def test_which_notices_are_hidden(message, hidden):
  assert console.is_hidden_notice(message) is hidden


def test_filter_stderr_drops_only_the_noise_lines(capfd):
  import re

  def write():
    os.write(2, b'noise: one\nkeep me\nnoise: two\n')
    return 7

  assert console.filter_stderr(write, re.compile('^noise:')) == 7
  assert capfd.readouterr().err == 'keep me\n'


def test_a_jobs_console_may_ask_for_fewer_cpp_lines_before_the_import():
  code = (
    'import os, sys; from tfest_adapters import console; '
    'print(os.environ["TF_CPP_MIN_LOG_LEVEL"], console.set_cpp_log_level(3), '
    'os.environ["TF_CPP_MIN_LOG_LEVEL"]); import tensorflow; '
    'print(console.set_cpp_log_level(0), os.environ["TF_CPP_MIN_LOG_LEVEL"])'
  )
  environ = {
    k: v for k, v in os.environ.items() if k not in ('TF_CPP_MIN_LOG_LEVEL', 'TFEST_VERBOSE')
  }
  for given, expected in ((None, '1 True 3\nFalse 3'), ('2', '2 True 2\nFalse 2')):
    env = dict(environ, TF_CPP_MIN_LOG_LEVEL=given) if given else environ
    proc = subprocess.run(
      [sys.executable, '-c', code], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.stdout.strip() == expected, proc.stderr
