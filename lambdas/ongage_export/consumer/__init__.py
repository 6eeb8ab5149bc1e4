"""The optional consumer: a landed export ZIP as typed Parquet with a manifest (its own bundle,
`lambdas/requirements-curated.txt`, for pyarrow)."""
