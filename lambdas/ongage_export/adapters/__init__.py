"""What talks to the world: Ongage over HTTP, S3 (multipart landing, the ZIP check on the
way), DynamoDB (readiness history), and `clients.py`, which builds them from the settings."""
