"""The machine the clusters run on: the Docker engine, child processes, installed tools."""
