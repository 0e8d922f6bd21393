"""Helpers behind the pynt tasks in build.py; every task's logic is a plain function taking a Project:

    from buildlib import load_project, stacks
    project = load_project(root, overrides={"SourceDataBucketName": "my-data"})
    stacks.create_or_update_stack(project, "step-functions-resources")

(the demo deploys on the local endpoint this way).
"""

from buildlib.errors import BuildError
from buildlib.project import FUNCTIONS, RUNNERS, STACKS, Project, load_project

__all__ = ["BuildError", "FUNCTIONS", "RUNNERS", "STACKS", "Project", "load_project"]
