"""``python -m solidb_odm.cli``: the ``solidb-odm`` command without the console script."""

from . import main

main()
