"""The ``authprobe`` subcommands. Each module has ``HELP``, ``add_arguments(parser)`` and
``run(args) -> exit status``; the work itself lives in the harness, report and nodeimage
packages."""
