"""The test kit's fixtures (etltest/plugin.py: ``etl``) for every test of the repository, yours included."""

pytest_plugins = ["etltest.plugin"]
