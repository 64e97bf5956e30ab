"""The refusals of the ``tfest`` command line: raising them, and quoting names and values in them.

Each refusal is one line: the argument, what was expected and what was given.
"""

import difflib

from tfest_adapters import exceptions


def fail(text, error=exceptions.ArgumentError):
  """Raises ``error(text)``: the one-line message ``tfest`` prints after ``tfest: error:``."""
  raise error(text)


def quote_list(names, limit=12):
  """``'a', 'b', ...``: the first ``limit`` names quoted, then how many there are in all."""
  names = list(names)
  text = ', '.join(repr(n) for n in names[:limit])
  if len(names) > limit:
    text += ', ... (%d in all)' % len(names)
  return text


def did_you_mean(name, choices, fuzzy=True):
  """' (did you mean 'X'?)' when a column name is close to ``name``, else ''.

  Close is the same name in another case, or (``fuzzy``) a similar spelling.
  """
  choices = list(choices)
  for choice in choices:
    if choice.strip().lower() == str(name).strip().lower():
      return " (did you mean '%s'?)" % choice
  if not fuzzy:
    return ''
  close = difflib.get_close_matches(str(name), choices, n=1)
  return " (did you mean '%s'?)" % close[0] if close else ''


def short(value, limit=40):
  """``repr`` of ``str(value)``, cut to ``limit`` characters."""
  text = str(value)
  return repr(text if len(text) <= limit else text[: limit - 3] + '...')
