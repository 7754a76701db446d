"""``python -m helpers run|clean|preflight …``: execute the notebook series, clean up, check AWS (``--help``).

The command line is :mod:`helpers.runner.cli`.
"""

from helpers.runner.cli import exit_now, main

if __name__ == "__main__":
    exit_now(main())
