"""A small local stand-in for AWS Glue's ``awsglue`` library: exactly the subset this project's scripts use.

See docs/DESIGN.md ("Glue scripts and the awsglue subset they use"). Data is staged between the local AWS
endpoint's S3 and local folders by ``localaws.runtime.catalog_staging``, because Spark has no S3 filesystem
here.
"""

from awsglue.dynamicframe import DynamicFrame
from localaws.runtime.spark import use_java

# A script run outside the local Glue bridge starts its own SparkContext: on the endpoint's Java, which may
# be the packaged one (no `java` on PATH).
use_java()

__all__ = ["DynamicFrame"]
