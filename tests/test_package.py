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
  return subprocess.run([sys.executable, '-c', code], cwd=str(cwd), env=env,
                        capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize('name', ['models', 'input_fns'])
def test_no_generic_top_level_module_is_installed(name, tmp_path):
  proc = _run_python('import %s' % name, tmp_path)
  assert proc.returncode != 0
  assert "No module named '%s'" % name in proc.stderr


def test_subpackages_are_installed_under_tfest_adapters(tmp_path):
  proc = _run_python(
      'import tfest_adapters.models as m, tfest_adapters.input_fns as i; '
      'print(m.__name__, i.__name__)', tmp_path)
  assert proc.returncode == 0, proc.stderr
  assert proc.stdout.split() == ['tfest_adapters.models', 'tfest_adapters.input_fns']


def test_importing_the_package_does_not_import_tensorflow(tmp_path):
  proc = _run_python(
      'import sys, tfest_adapters; print("tensorflow" in sys.modules)', tmp_path)
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
  import tensorflow as tf
  from importlib import metadata
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
    tfest_adapters.nope  # pylint: disable=pointless-statement


def test_all_lists_exactly_the_public_names():
  assert set(tfest_adapters.__all__) == (
      set(tfest_adapters._EXPORTS) | set(tfest_adapters._SUBMODULES))
