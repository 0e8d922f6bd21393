"""Tests of the embedded local AWS endpoint (``localaws.server.LocalAws``) and its bridges.

The fixtures ``local_aws``, ``aws_client`` and ``unique_name`` are defined in ``tests/conftest.py`` so that
``tests/lambda`` shares the same session endpoint (see there).
"""
