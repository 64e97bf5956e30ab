"""The installed package: its layout, its pins and its public API."""

import configparser
import importlib
import os
import subprocess
import sys

import pytest

from conftest import REPO_ROOT
import tfest_adapters


def _run_python(code, cwd):
  env = dict(os.environ, PYTHONPATH='')
  return subprocess.run(
    [sys.executable, '-c', code], cwd=str(cwd), env=env, capture_output=True, text=True, timeout=120
  )


@pytest.mark.parametrize('name', ['models', 'input_fns'])
def test_no_generic_top_level_module_is_installed(name, tmp_path):
  proc = _run_python('import %s' % name, tmp_path)
  assert proc.returncode != 0
  assert "No module named '%s'" % name in proc.stderr


def test_subpackages_are_installed_under_tfest_adapters(tmp_path):
  proc = _run_python(
    'import tfest_adapters.models as m, tfest_adapters.input_fns as i; '
    'print(m.__name__, i.__name__)',
    tmp_path,
  )
  assert proc.returncode == 0, proc.stderr
  assert proc.stdout.split() == ['tfest_adapters.models', 'tfest_adapters.input_fns']


def test_importing_the_package_does_not_import_tensorflow(tmp_path):
  proc = _run_python('import sys, tfest_adapters; print("tensorflow" in sys.modules)', tmp_path)
  assert proc.returncode == 0, proc.stderr
  assert proc.stdout.strip() == 'False'


def test_setup_cfg_pins_the_last_estimator_releases():
  cfg = configparser.ConfigParser()
  cfg.read(REPO_ROOT / 'setup.cfg')
  requires = cfg['options']['install_requires'].split()
  assert 'tensorflow==2.15.1' in requires
  assert 'tensorflow-estimator==2.15.0' in requires
  assert cfg['options']['python_requires'] == '>=3.9,<3.12'


def test_installed_versions_match_the_pins():
  from importlib import metadata

  import tensorflow as tf

  assert tf.__version__ == '2.15.1'
  assert metadata.version('tensorflow-estimator') == '2.15.0'


@pytest.mark.parametrize('name', sorted(tfest_adapters._EXPORTS))
def test_every_public_name_resolves(name):
  value = getattr(tfest_adapters, name)
  module = importlib.import_module(tfest_adapters._EXPORTS[name])
  assert value is getattr(module, name)
  assert value.__doc__, '%s has no docstring' % name


@pytest.mark.parametrize('name', tfest_adapters._SUBMODULES)
def test_every_public_submodule_imports(name):
  module = getattr(tfest_adapters, name)
  assert module.__name__ == 'tfest_adapters.' + name
  assert module.__doc__


def test_unknown_attribute_raises_attribute_error():
  with pytest.raises(AttributeError, match="has no attribute 'nope'"):
    tfest_adapters.nope  # noqa: B018


# The public API, written out: adding, removing or renaming a public name must change this.
PUBLIC_NAMES = [
  'DryRunReport',
  'History',
  'MetricKeys',
  'PredictionKeys',
  'Predictor',
  'StepsPerRunStopHook',
  'TFRecordFiles',
  'TfestError',
  'check_spec',
  'classifier_model_fn',
  'csv_input_fn',
  'dnn_network_fn',
  'dry_run',
  'export_saved_model',
  'fit',
  'group_batches',
  'linear_classifier_model_fn',
  'linear_regressor_model_fn',
  'make_estimator',
  'make_head',
  'make_model_fn',
  'make_optimizer_fn',
  'mode_checked',
  'numpy_input_fn',
  'pandas_input_fn',
  'read_history',
  'regressor_model_fn',
  'tensor_slices_input_fn',
  'tfrecord_input_fn',
  'train_and_evaluate',
  'verbose_logging',
  'wide_deep_classifier_model_fn',
  'wide_deep_regressor_model_fn',
  'write_tfrecords',
]
PUBLIC_SUBMODULES = ['input_fns', 'models', 'cluster', 'exceptions', 'keys', 'console', 'demo']


def test_all_lists_exactly_the_public_names():
  assert sorted(tfest_adapters.__all__) == sorted(PUBLIC_NAMES + PUBLIC_SUBMODULES)


def test_star_import_gives_every_public_name(tmp_path):
  proc = _run_python(
    'from tfest_adapters import *; names = set(dir()); '
    'print(sorted(set(%r) - names))' % (PUBLIC_NAMES + PUBLIC_SUBMODULES),
    tmp_path,
  )
  assert proc.returncode == 0, proc.stderr
  assert proc.stdout.strip() == '[]'
