"""``python -m clockwork.cli``: the same command as the ``clockwork`` entry point."""

from clockwork.cli import main

main()
