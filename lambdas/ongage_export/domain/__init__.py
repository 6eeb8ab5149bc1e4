"""The rules of an export run, free of AWS and HTTP: requests, polling, the job, errors, keys,
the use cases (start, poll, run status). Adapters come in through the Protocols declared here."""
