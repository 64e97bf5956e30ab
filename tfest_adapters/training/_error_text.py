"""The text of a TF op error, shortened for a TrainingError message."""


def assertion_text(error):
  """The data of a failed ``tf.debugging.Assert`` as one line of text, or None."""
  text = str(getattr(error, 'message', error))
  start = text.find('assertion failed: ')
  if start < 0:
    return None
  line = text[start + len('assertion failed: ') :].split('\n')[0]
  parts, depth, current = [], 0, []
  for char in line:
    if char == '[':
      depth += 1
      if depth == 1:
        current = []
        continue
    elif char == ']':
      depth -= 1
      if depth == 0:
        parts.append(''.join(current).strip())
        continue
    if depth >= 1:
      current.append(char)
  return ' '.join(p for p in parts if p) or None


def op_error_text(error):
  """The message of a TF op error without its graph-construction traceback, on one line.

  TF's session errors read "Graph execution error:", then where the op was defined, then
  "Node: 'name'", then the op's own message: that message and the node are kept.
  """
  text = str(getattr(error, 'message', error))
  node = None
  for line in text.splitlines():
    stripped = line.strip()
    if stripped.startswith('Node: '):
      node = stripped[len('Node: ') :].strip("'")
      continue
    if (
      not stripped
      or line[:1].isspace()
      or stripped == 'Graph execution error:'
      or stripped.startswith('Detected at node')
      or stripped.startswith('[[')
    ):
      continue
    return '%s (op %s)' % (stripped, node) if node else stripped
  return text.strip()
