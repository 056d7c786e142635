"""The story's scenarios and their expectations; installed, this folder is the package
``authprobe.scenarios`` (run it with ``pytest --pyargs authprobe.scenarios``)."""
