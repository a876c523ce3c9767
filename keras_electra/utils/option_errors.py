"""Errors that name an option as its caller knows it.

A message template names options as `{o.batch_size}`: a Python caller
reads `` `batch_size` ``, a command-line user `--batch-size` (the command
line calls `for_command_line()`). Plain Python, no backend: every layer
may raise one, and the jobs' option schema (`jobs/options.py`) registers
the flags whose spelling differs from the name.
"""

_FLAGS = {}  # option name -> its flag, where it is not --name-with-dashes


def register_flag(name, flag):
    """Spell option `name` as `flag` on the command line."""
    _FLAGS[name] = flag


def flag_of(name):
    """The command-line flag of option `name`."""
    return _FLAGS.get(name) or "--" + name.replace("_", "-")


class Spelling:
    """`{o.batch_size}` in a template: `` `batch_size` `` or `--batch-size`."""

    def __init__(self, command_line):
        self.command_line = command_line

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        if self.command_line:
            return flag_of(name)
        return f"`{name}`"


def spell(template, command_line=False, **values):
    """`template` with its `{o.name}` options spelled for the caller
    (flags when `command_line`) and its `{key}` values filled in: the
    messages that are not errors (notes, warnings) read like the errors."""
    return template.format(o=Spelling(command_line), **values)


class OptionError(ValueError):
    """A bad option value; the message says how to fix it.

    Args:
        template: str. The message; `{o.name}` names an option, `{key}`
            a value given as a keyword argument (paths, numbers: never
            written into the template itself, where a brace would break
            it).
        **values: the values the template shows.

    `str(error)` names options as Python arguments; `for_command_line()`
    as flags.

    Example:
    ```python
    error = OptionError("{o.batch_size} must be positive. Received: {v}.", v=0)
    str(error)  # '`batch_size` must be positive. Received: 0.'
    error.for_command_line()  # '--batch-size must be positive. Received: 0.'
    ```
    """

    def __init__(self, template, **values):
        self.template = template
        self.values = values
        super().__init__(self._render(command_line=False))

    def _render(self, command_line):
        return spell(self.template, command_line, **self.values)

    def for_command_line(self):
        return self._render(command_line=True)

    def __reduce__(self):
        # Pickled (e.g. across processes) with its template, not the text.
        return (_rebuild, (type(self), self.template, self.values))


def _rebuild(cls, template, values):
    return cls(template, **values)
