"""A quiet console: TF's notices about the API chosen on purpose are hidden unless TFEST_VERBOSE=1.

Installed by ``import tfest_adapters`` without importing TensorFlow (docs/console.md says what is
hidden, what still shows, and why).
"""

import logging
import os
import re
import sys
import tempfile

# Set to 1 (or true, yes) before importing tfest_adapters: nothing is hidden.
VERBOSE_ENV = 'TFEST_VERBOSE'

# TF_CPP_MIN_LOG_LEVEL 1 hides TF's C++ INFO lines; its warnings and errors still show.
_CPP_LEVEL_ENV = 'TF_CPP_MIN_LOG_LEVEL'
_CPP_LEVEL = '1'

# What `import tensorflow` prints on every machine with TF 2.15's CUDA wheel, GPU or not: the
# CUDA plugins registered twice (ERROR lines, tensorflow#62075) and TensorRT not installed.
_IMPORT_NOISE = re.compile(
  r'Unable to register cu(DNN|FFT|BLAS) factory: Attempting to register factory for plugin'
  r'|TF-TRT Warning: Could not find TensorRT'
)

# TF's `deprecation` module writes "... X (from <module>) is deprecated ... Instructions for
# updating: ...". Hidden only when <module> is of the API a tfest_adapters user chose:
# tf.estimator, compat.v1 training (hooks, sessions, the v1 Saver, v1 initializers), the v1
# SavedModel of its exports, and feature columns.
_DEPRECATION = re.compile(r'\(from ([\w.]+)\).*\bdeprecated\b.*\nInstructions for updating:', re.S)
_CHOSEN_API = (
  'tensorflow_estimator.',
  'tensorflow.python.training.',
  'tensorflow.python.checkpoint.checkpoint_management',  # The v1 Saver's checkpoint files.
  'tensorflow.python.feature_column.',
  'tensorflow.python.saved_model.',  # The v1 SavedModel of the Estimator's exports.
  'tensorflow.python.ops.init_ops',
)

# The Estimator's StepCounterHook reads the global step in the run that increments it, and
# logs this when the read races the increment (tf.estimator.DNNClassifier does too). A train_op
# that really never increments it is refused by check_spec and stopped by fit with an error.
_STEP_RACE = 'It seems that global step (tf.train.get_global_step) has not been increased.'


def is_verbose():
  """Whether TFEST_VERBOSE asks for everything TensorFlow says."""
  return os.environ.get(VERBOSE_ENV, '').strip().lower() in ('1', 'true', 'yes')


def is_hidden_notice(message):
  """Whether a 'tensorflow' log message is hidden by default.

  Hidden: TF's deprecation notices about the API chosen on purpose, and the StepCounterHook's
  false alarm about the global step.
  """
  if message.startswith(_STEP_RACE):
    return True
  match = _DEPRECATION.search(message)
  return bool(match) and match.group(1).startswith(_CHOSEN_API)


class _DeprecationFilter(logging.Filter):
  """Drops the 'tensorflow' logger's notices that ``is_hidden_notice``."""

  def filter(self, record):
    try:
      return not is_hidden_notice(record.getMessage())
    except Exception:  # A record that cannot format is not ours to judge.
      return True


class _QuietImport:
  """A sys.meta_path finder: the first `import tensorflow` without its known import noise."""

  def find_spec(self, fullname, path=None, target=None):
    del path, target  # Unused.
    if fullname != 'tensorflow':
      return None
    _remove_import_hook()
    import importlib.util

    spec = importlib.util.find_spec(fullname)
    if spec is not None and spec.loader is not None and hasattr(spec.loader, 'exec_module'):
      loader = spec.loader
      exec_module = loader.exec_module

      def quiet_exec_module(module):
        try:
          filter_stderr(lambda: exec_module(module), _IMPORT_NOISE)
        finally:
          del loader.exec_module  # Back to the class's method.

      loader.exec_module = quiet_exec_module
    return spec


_FILTER = _DeprecationFilter()
_HOOK = _QuietImport()
_state = {'cpp_level_set': False}


def filter_stderr(run, noise):
  """``run()`` with the lines of file descriptor 2 matching ``noise`` dropped; its result.

  The C++ side of TensorFlow writes to the descriptor, not to ``sys.stderr``: the lines are
  collected in a temporary file while ``run`` runs, then the others are written back.
  """
  try:
    sys.stderr.flush()
  except (AttributeError, ValueError):
    pass
  saved = os.dup(2)
  with tempfile.TemporaryFile() as captured:
    os.dup2(captured.fileno(), 2)
    try:
      return run()
    finally:
      try:
        sys.stderr.flush()
      except (AttributeError, ValueError):
        pass
      os.dup2(saved, 2)
      os.close(saved)
      captured.seek(0)
      lines = captured.read().decode('utf-8', 'replace').splitlines(keepends=True)
      kept = ''.join(line for line in lines if not noise.search(line))
      if kept:
        os.write(2, kept.encode('utf-8'))


def _remove_import_hook():
  while _HOOK in sys.meta_path:
    sys.meta_path.remove(_HOOK)


def quiet_by_default():
  """Hides TF's notices about the chosen API, unless TFEST_VERBOSE is set; idempotent.

  Before TensorFlow's first import only: sets TF_CPP_MIN_LOG_LEVEL to 1 (unless the user set
  it) and drops the CUDA-registration and TensorRT lines of the import. Always: drops the
  'tensorflow' logger's deprecation notices about tf.estimator, compat.v1 training and feature
  columns, and the StepCounterHook's false alarm. Every other line TensorFlow writes at WARNING
  or above still shows.
  """
  if is_verbose():
    return
  if 'tensorflow' not in sys.modules:
    if _CPP_LEVEL_ENV not in os.environ:
      os.environ[_CPP_LEVEL_ENV] = _CPP_LEVEL
      _state['cpp_level_set'] = True
    if _HOOK not in sys.meta_path:
      sys.meta_path.insert(0, _HOOK)
  logger = logging.getLogger('tensorflow')
  if _FILTER not in logger.filters:
    logger.addFilter(_FILTER)


def set_cpp_log_level(level):
  """Sets TF_CPP_MIN_LOG_LEVEL for TensorFlow's first import, unless the user has set it.

  For a job's console (the ``tfest`` command, the demo) that wants fewer C++ lines than a
  library's default. Returns False (and does nothing) once TensorFlow is imported.
  """
  if 'tensorflow' in sys.modules:
    return False
  if _CPP_LEVEL_ENV not in os.environ or _state['cpp_level_set']:
    os.environ[_CPP_LEVEL_ENV] = str(level)
    _state['cpp_level_set'] = True
  return True


def verbose_logging():
  """Brings back everything TensorFlow says (what ``TFEST_VERBOSE=1`` does at import).

  The deprecation notices show again at once. The C++ log level is read by TensorFlow when it
  is first imported: called before that, TF's C++ INFO lines and import lines show too; after,
  only ``TFEST_VERBOSE=1`` in the environment of a new process brings them back.
  """
  logging.getLogger('tensorflow').removeFilter(_FILTER)
  _remove_import_hook()
  if _state['cpp_level_set'] and 'tensorflow' not in sys.modules:
    os.environ.pop(_CPP_LEVEL_ENV, None)
    _state['cpp_level_set'] = False
