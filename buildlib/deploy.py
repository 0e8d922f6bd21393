"""deployall: package, upload, and create or update every stack in order."""

from __future__ import annotations

from buildlib.lambdas import deploy_lambdas, update_lambdas
from buildlib.packaging import package_lambdas
from buildlib.project import STACK_FUNCTION, STACKS, Project
from buildlib.s3 import deploy_glue_scripts
from buildlib.stacks import create_or_update_stack


def deploy_all(project: Project) -> dict[str, str]:
    """packagelambda, deploylambda, deploygluescripts, then create-or-update the stacks in DESIGN.md order.

    CloudFormation does not see new code behind an unchanged SourceS3Key, so a function whose stack was
    updated or left unchanged gets the new zip directly when its CodeSha256 differs.
    Returns {stack: 'created' | 'updated' | 'unchanged'}.
    """
    project.validate()
    package_lambdas(project)
    deploy_lambdas(project)
    deploy_glue_scripts(project)
    results = {}
    for stack in STACKS:
        results[stack] = create_or_update_stack(project, stack)
        function = STACK_FUNCTION.get(stack)
        if function and results[stack] != "created":
            update_lambdas(project, [function], only_changed=True)
    for stack, result in results.items():
        project.out(f"{stack}: {result}")
    return results
