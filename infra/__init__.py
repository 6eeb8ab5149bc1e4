"""The CDK app's constructs: the production system around statemachine/export.asl.json."""
