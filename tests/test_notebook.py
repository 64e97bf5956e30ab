"""examples/iris.ipynb: committed without outputs, and every cell runs (nbclient, real kernel).

The notebook reads ``TFEST_NOTEBOOK_STEPS`` and ``TFEST_NOTEBOOK_MODEL_DIR`` so that this test
trains a few steps into a temporary model_dir. The kernel is this interpreter: the ``python3``
kernelspec when it launches ``python`` (which jupyter_client replaces by ``sys.executable``) or
this very executable, else a kernelspec written for ``sys.executable`` into a temporary
``JUPYTER_PATH``.
"""

import os
import sys

import nbclient
import nbformat
import pytest

from conftest import DATA_DIR
from conftest import REPO_ROOT

NOTEBOOK = REPO_ROOT / 'examples' / 'iris.ipynb'
STEPS = 20


def _read():
  return nbformat.read(str(NOTEBOOK), as_version=4)


def _kernel_for_this_interpreter(tmp_path):
  """(kernel name, extra environment) of a kernel that runs ``sys.executable``."""
  from jupyter_client.kernelspec import KernelSpecManager
  from jupyter_client.kernelspec import NoSuchKernel

  swapped = {'python', 'python%d' % sys.version_info[0], 'python%d.%d' % sys.version_info[:2]}
  try:
    argv0 = KernelSpecManager().get_kernel_spec('python3').argv[0]
    if argv0 in swapped or os.path.realpath(argv0) == os.path.realpath(sys.executable):
      return 'python3', {}
  except NoSuchKernel:
    pass
  from ipykernel import kernelspec

  prefix = tmp_path / 'jupyter'
  kernelspec.install(kernel_name='tfest-test', prefix=str(prefix))
  return 'tfest-test', {'JUPYTER_PATH': str(prefix / 'share' / 'jupyter')}


def test_notebook_is_committed_without_outputs():
  notebook = _read()
  nbformat.validate(notebook)
  code = [cell for cell in notebook.cells if cell.cell_type == 'code']
  assert code, 'no code cells'
  for cell in code:
    assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


def test_notebook_shows_every_step_of_the_job():
  source = '\n'.join(cell.source for cell in _read().cells)
  for call in (
    'tensor_slices_input_fn(',
    'classifier_model_fn',
    'make_estimator(',
    'dry_run(',
    'fit(',
    'history.plot()',
    'estimator.evaluate(',
    'export_saved_model(',
    'Predictor.from_saved_model(',
    'tensorboard --logdir',
    'wide_deep_classifier_model_fn',
    'census.main(',
    'census.plot(histories)',
  ):
    assert call in source, call


@pytest.mark.slow
def test_notebook_runs_every_cell(tmp_path, monkeypatch):
  notebook = _read()
  kernel_name, env = _kernel_for_this_interpreter(tmp_path)
  model_dir = tmp_path / 'iris-notebook'
  for key, value in dict(
    env,
    TFEST_NOTEBOOK_STEPS=str(STEPS),
    TFEST_NOTEBOOK_EVAL_EVERY=str(STEPS),
    TFEST_NOTEBOOK_MODEL_DIR=str(model_dir),
    TFEST_DATA_DIR=str(DATA_DIR),
    TF_CPP_MIN_LOG_LEVEL='2',
  ).items():
    monkeypatch.setenv(key, value)
  client = nbclient.NotebookClient(
    notebook,
    timeout=300,
    kernel_name=kernel_name,
    resources={'metadata': {'path': str(NOTEBOOK.parent)}},
  )
  client.execute()  # Raises CellExecutionError, with the cell and its traceback, if one fails.

  outputs = [
    output for cell in notebook.cells if cell.cell_type == 'code' for output in cell.outputs
  ]
  assert not [o for o in outputs if o.output_type == 'error']
  text = '\n'.join(
    o.get('text', '') + str(o.get('data', {}).get('text/plain', '')) for o in outputs
  )
  assert 'steps: %d | model_dir: %s' % (STEPS, model_dir) in text
  assert any('image/png' in o.get('data', {}) for o in outputs), 'no History plot'
  assert 'accuracy' in text and 'global_step' in text  # The eval table.
  assert 'predicted' in text and 'Setosa' in text  # The Predictor's table.
  assert 'tensorboard --logdir %s' % model_dir in text
  assert (model_dir / 'checkpoint').is_file()
  assert list((model_dir / 'export').glob('*/saved_model.pb'))
  # The census-like table: three models, their histories in one figure.
  assert 'wide_deep' in text and 'eval_auc' in text
  assert sum('image/png' in o.get('data', {}) for o in outputs) >= 2
  assert (model_dir / 'census' / 'histories.png').is_file()
