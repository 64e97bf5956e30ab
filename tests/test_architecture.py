"""The architecture rules that import-linter cannot state (docs/architecture.md).

* A private name (``_x``) is used only inside what owns it: a private module or subpackage
  only within its parent package, a private function, class or constant only within its
  module. What another part needs gets a public name where it is defined.
* Only the top layer (``__main__``, ``demo``) imports the package root, whose lazy names
  reach every layer.

import-linter checks the layers themselves (``make lint``).
"""

import ast

import pytest

from conftest import REPO_ROOT

# Source folder -> the package it installs as (setup.cfg's package_dir).
_SOURCES = {
  'tfest_adapters': 'tfest_adapters',
  'models': 'tfest_adapters.models',
  'input_fns': 'tfest_adapters.input_fns',
}
_ROOT = 'tfest_adapters'
_MAY_IMPORT_ROOT = ('tfest_adapters.__main__', 'tfest_adapters.demo')


def _modules():
  """(dotted module name, path) of every library module."""
  for folder, package in _SOURCES.items():
    for path in sorted((REPO_ROOT / folder).rglob('*.py')):
      parts = list(path.relative_to(REPO_ROOT / folder).with_suffix('').parts)
      if parts[-1] == '__init__':
        parts = parts[:-1]
      yield '.'.join([package] + parts), path


def _is_private(name):
  return name.startswith('_') and not (name.startswith('__') and name.endswith('__'))


def _inside(module, owner):
  return module == owner or module.startswith(owner + '.')


def _resolve(module, node):
  """The absolute module of an ``ImportFrom`` in ``module`` (a package's own name for ``.``)."""
  if not node.level:
    return node.module
  is_package = module.count('.') == 0 or module in _PACKAGES
  base = module.split('.')
  base = base if is_package else base[:-1]
  base = base[: len(base) - node.level + 1]
  return '.'.join(base + ([node.module] if node.module else []))


_PACKAGES = set()


def private_uses(module, source):
  """(line, dotted name) of each private name ``module`` uses outside its owner."""
  tree = ast.parse(source)
  aliases = {}  # Local name -> dotted name of one of our modules or names.
  used = []
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      for alias in node.names:
        if alias.name.split('.')[0] == _ROOT:
          aliases[alias.asname or alias.name.split('.')[0]] = alias.name if alias.asname else _ROOT
          used.append((node.lineno, alias.name))
    elif isinstance(node, ast.ImportFrom):
      base = _resolve(module, node)
      if base and base.split('.')[0] == _ROOT:
        for alias in node.names:
          dotted = base + '.' + alias.name
          aliases[alias.asname or alias.name] = dotted
          used.append((node.lineno, dotted))
  for node in ast.walk(tree):
    if (
      isinstance(node, ast.Attribute)
      and isinstance(node.value, ast.Name)
      and node.value.id in aliases
    ):
      used.append((node.lineno, aliases[node.value.id] + '.' + node.attr))
  bad = []
  for line, dotted in used:
    parts = dotted.split('.')
    for i, part in enumerate(parts):
      if _is_private(part) and not _inside(module, '.'.join(parts[:i])):
        bad.append((line, dotted))
        break
  return bad


def root_imports(module, source):
  """Lines where ``module`` imports the package root itself (not one of its parts)."""
  lines = []
  for node in ast.walk(ast.parse(source)):
    if isinstance(node, ast.Import):
      lines += [node.lineno for a in node.names if a.name == _ROOT]
    elif isinstance(node, ast.ImportFrom) and _resolve(module, node) == _ROOT:
      lines += [node.lineno for a in node.names if '%s.%s' % (_ROOT, a.name) not in _KNOWN_MODULES]
  return lines


_MODULES = list(_modules())
_KNOWN_MODULES = {name for name, _ in _MODULES}
_PACKAGES.update(name for name, path in _MODULES if path.name == '__init__.py')


@pytest.mark.parametrize('module,path', _MODULES, ids=[name for name, _ in _MODULES])
def test_no_private_name_is_used_outside_its_owner(module, path):
  bad = private_uses(module, path.read_text())
  assert not bad, '%s uses private names of other modules: %s' % (
    path.relative_to(REPO_ROOT),
    ', '.join('line %d: %s' % b for b in bad),
  )


@pytest.mark.parametrize('module,path', _MODULES, ids=[name for name, _ in _MODULES])
def test_only_the_top_layer_imports_the_package_root(module, path):
  if module in _MAY_IMPORT_ROOT or module == _ROOT:
    return
  lines = root_imports(module, path.read_text())
  assert not lines, '%s imports the package root (lines %s): import the part it needs' % (
    path.relative_to(REPO_ROOT),
    lines,
  )


@pytest.mark.parametrize(
  'module,source,expected',
  [
    # A private module of another package.
    (
      'tfest_adapters.training._fit',
      'from tfest_adapters.models import _steps_per_run\n',
      ['tfest_adapters.models._steps_per_run'],
    ),
    # A private function of a sibling module.
    (
      'tfest_adapters.training._train_eval',
      'from tfest_adapters.training import _fit\n_fit._validate_estimator(1)\n',
      ['tfest_adapters.training._fit._validate_estimator'],
    ),
    (
      'tfest_adapters.cli._model',
      'from tfest_adapters.cli import _data as data\ndata._parse_numbers([])\n',
      ['tfest_adapters.cli._data._parse_numbers'],
    ),
    (
      'tfest_adapters.estimator._make',
      'from tfest_adapters.training._guards import _leaf_names\n',
      ['tfest_adapters.training._guards._leaf_names'],
    ),
    # Allowed: a sibling private module's public name, _core anywhere in the package, a
    # package's public names, and a module's own private names.
    (
      'tfest_adapters.training._train_eval',
      'from tfest_adapters.training import _fit\n_fit.check_input_fn(1)\n',
      [],
    ),
    (
      'tfest_adapters.models._params',
      'from tfest_adapters._core import groups\ngroups.PARAMS_KEY\n',
      [],
    ),
    ('tfest_adapters.cli._model', 'from tfest_adapters import training\ntraining.fit\n', []),
    (
      'tfest_adapters.models._templates',
      'from tfest_adapters.models import _optimizers\n_optimizers.minimize\n',
      [],
    ),
  ],
)
def test_the_private_name_rule_catches_what_it_should(module, source, expected):
  assert [dotted for _, dotted in private_uses(module, source)] == expected


def test_root_imports_are_caught():
  assert root_imports('tfest_adapters.cli._model', 'import tfest_adapters as tfa\n') == [1]
  assert root_imports('tfest_adapters.cli._model', 'from tfest_adapters import training\n') == []
