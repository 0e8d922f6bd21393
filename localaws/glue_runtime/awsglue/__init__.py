"""A small local stand-in for AWS Glue's ``awsglue`` library: exactly the subset this project's scripts use.

See docs/DESIGN.md ("Glue scripts and the awsglue subset they use"). Data is staged between the local AWS
endpoint's S3 and local folders by ``localaws.catalog_staging``, because Spark has no S3 filesystem here.
"""

from awsglue.dynamicframe import DynamicFrame

__all__ = ["DynamicFrame"]
