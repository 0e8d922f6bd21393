"""What runs user code on the local endpoint: the Lambda worker processes and their zygote, the Spark session
that runs Glue scripts and Athena queries, the ``awsglue`` runtime those scripts import, and the staging of
Glue catalog tables' S3 files for Spark."""
