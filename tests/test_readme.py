"""The Python examples of README.md and docs/ run as written (from the repository root)."""

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios

import numpy as np
import pytest

from conftest import REPO_ROOT


def _python_blocks(path='README.md'):
  text = (REPO_ROOT / path).read_text()
  return re.findall(r'```python\n(.*?)```', text, flags=re.S)


def test_readme_has_the_two_commands_first():
  text = (REPO_ROOT / 'README.md').read_text()
  commands = text.index('make demo'), text.index('make test')
  assert commands[0] < text.index('```python') and commands[1] < text.index('```python')


def _run_with_a_terminal(code, cwd):
  """Runs ``code`` in a new Python as a user's terminal would: stderr a tty, stdout a pipe.

  Returns (stdout lines, stderr lines), with the progress bar's redraws (carriage returns)
  folded into the line they redraw.
  """
  env = {k: v for k, v in os.environ.items() if k not in ('TF_CPP_MIN_LOG_LEVEL', 'CI')}
  master, slave = pty.openpty()
  fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', 24, 100, 0, 0))  # 100 columns.
  proc = subprocess.Popen(
    [sys.executable, '-c', code], cwd=str(cwd), env=env, stdout=subprocess.PIPE, stderr=slave
  )
  os.close(slave)
  chunks = []
  while True:
    try:
      chunk = os.read(master, 4096)
    except OSError:  # EIO: the child closed the terminal.
      break
    if not chunk:
      break
    chunks.append(chunk)
  stdout = proc.stdout.read().decode()
  proc.wait(timeout=600)
  os.close(master)
  assert proc.returncode == 0, b''.join(chunks).decode(errors='replace')
  stderr = b''.join(chunks).decode(errors='replace').replace('\r\n', '\n')
  stderr_lines = [line.split('\r')[-1] for line in stderr.split('\n') if line.strip('\r ')]
  return stdout.splitlines(), stderr_lines


# Run after the README's blocks: what they leave, written to a file (stdout stays theirs).
_README_FACTS = """
import json
with open('readme_facts.json', 'w') as f:
  json.dump(dict(accuracy=float(metrics['accuracy']), history_rows=len(history),
                 class_ids_shape=list(predictor(test[:3])['class_ids'].shape)), f)
"""


def test_readme_examples_run_and_print_only_their_output(tmp_path):
  """The two blocks, as one script in a new Python: they run and leave what they say, and print
  two progress bars, the results, and nothing of TF."""
  os.symlink(REPO_ROOT / 'data', tmp_path / 'data')
  blocks = _python_blocks()
  assert len(blocks) == 2
  stdout, stderr = _run_with_a_terminal(blocks[0] + blocks[1] + _README_FACTS, tmp_path)
  # A progress bar per fit (one line each, redrawn in place).
  assert len(stderr) == 2, stderr
  assert re.match(r'train: 100%.*1000/1000 .*loss=', stderr[0]), stderr
  assert re.match(r'train: 100%.*2000/2000 .*loss=.*eval_accuracy=', stderr[1]), stderr
  # The first block's results; the second prints nothing.
  assert stdout[0] == 'accuracy 0.967, average loss 0.060', stdout  # As README.md says.
  assert len(stdout) == 4, stdout
  for line in stdout[1:]:
    assert re.fullmatch(r'\[[012]\] \[[-+.e\d ]+\]', line), stdout
  facts = json.loads((tmp_path / 'readme_facts.json').read_text())
  assert '%.3f' % facts['accuracy'] == '0.967'  # The script's own metrics, as printed.
  assert facts['class_ids_shape'] == [3, 1]
  assert (tmp_path / 'runs' / 'readme' / 'history.csv').is_file()
  assert facts['history_rows'] > 0


def test_throughput_guide_example_runs(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  blocks = _python_blocks('docs/throughput.md')
  assert len(blocks) == 2  # The second continues the first.
  namespace = {}
  exec(compile(blocks[0], 'docs/throughput.md', 'exec'), namespace)
  assert namespace['estimator'].get_variable_value('global_step') == 100
  exec(compile(blocks[1], 'docs/throughput.md', 'exec'), namespace)
  assert namespace['estimator'].get_variable_value('global_step') == 192
  assert namespace['estimator']._keeper.kept_calls == 2
  assert not namespace['estimator']._keeper.has_session


def test_estimator_checks_guide_example_runs(tmp_path, monkeypatch, capsys):
  monkeypatch.chdir(tmp_path)
  blocks = _python_blocks('docs/estimator_checks.md')
  assert len(blocks) == 2  # The first is a fragment (params), the second runs.
  namespace = {}
  exec(compile(blocks[1], 'docs/estimator_checks.md', 'exec'), namespace)
  served = capsys.readouterr().out.rstrip()
  input_fn = namespace['tfa'].numpy_input_fn(namespace['images'][:3], shuffle=False)
  expected = [p['class_ids'].tolist() for p in namespace['estimator'].predict(input_fn)]
  assert served.endswith(str(np.array(expected))), served


def test_templates_guide_example_builds_a_checked_estimator(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  blocks = _python_blocks('docs/templates.md')
  assert len(blocks) == 1
  namespace = {}
  exec(compile(blocks[0], 'docs/templates.md', 'exec'), namespace)
  params = namespace['estimator'].params
  checked = namespace['tfa'].wide_deep_classifier_model_fn.check_params(params)
  assert checked.linear_optimizer_fn.description.startswith('tf.keras.optimizers.legacy.Ftrl')
  assert (checked.dnn_hidden_units, checked.steps_per_run) == ((32, 16), 1)


@pytest.mark.parametrize(
  'learning_rate, accuracy',
  [('', 'accuracy 0.567'), ('\n                learning_rate=0.05', 'accuracy 1.000')],
  ids=['default', '0.05'],
)
def test_readme_learning_rate_paragraph(tmp_path, monkeypatch, capsys, learning_rate, accuracy):
  """README.md: the first example ends at 0.567 with the templates' default rate, 1.000 at 0.05."""
  monkeypatch.chdir(tmp_path)
  os.symlink(REPO_ROOT / 'data', tmp_path / 'data')
  block = _python_blocks()[0]
  given = '\n                learning_rate=0.1'
  assert given in block
  block = block.replace('n_classes=3,' + given, 'n_classes=3,' + learning_rate)
  block = block.replace('max_steps=1000)', 'max_steps=1000, progress=False)')
  exec(compile(block, 'README.md', 'exec'), {})
  assert capsys.readouterr().out.splitlines()[0].startswith(accuracy + ',')
