"""The curated Parquet as a table: a Glue database and table, and an Athena workgroup.

The table reads `s3://<bucket>/<curated>/` with partition projection on `list` (injected: every
query names its list, `WHERE list = '1111'`) and `date` (`yyyy-MM-dd` from 2020 to today), so
no crawler and no MSCK REPAIR is ever needed: a new export is queryable the moment its Parquet is
written. Columns: the typed system fields, then the configured list fields (`curated.fields` and
every schedule's `fields_selected`) as strings. Parquet is read by column name, so exports with
fewer fields read NULL for the missing ones and a field the table lacks stays invisible until it
is added to `curated.fields` (docs/consumers.md, "Schema evolution").

Query results go to `<bucket>/athena-results/`, encrypted (SSE-KMS under `kms_key` when set,
SSE-S3 else), enforced by the workgroup.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import aws_cdk as cdk
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from ongage_export.consumer.schema import SYSTEM_FIELD_TYPES, glue_columns

TABLE_NAME = "curated_exports"
RESULTS_PREFIX = "athena-results/"
PROJECTED_DATES = "2020-01-01,NOW"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"


def database_name(stack_name: str) -> str:
    """Glue database names: lower-case letters, digits and underscores."""
    return re.sub(r"[^a-z0-9_]+", "_", stack_name.lower()).strip("_")


def table_columns(fields: Iterable[str]) -> list[dict[str, str]]:
    """The system fields, then each list field once, in lower case: Glue stores names so, and
    Athena matches Parquet columns to them whatever their case."""
    names = dict.fromkeys(SYSTEM_FIELD_TYPES)
    names.update(dict.fromkeys(f.lower() for f in fields))
    return glue_columns(list(names))


def projection_parameters(location: str) -> dict[str, str]:
    return {
        "classification": "parquet",
        "projection.enabled": "true",
        "projection.list.type": "injected",
        "projection.date.type": "date",
        "projection.date.format": "yyyy-MM-dd",
        "projection.date.range": PROJECTED_DATES,
        "projection.date.interval": "1",
        "projection.date.interval.unit": "DAYS",
        "storage.location.template": location + "list=${list}/date=${date}/",
    }


class QueryCatalog(Construct):
    """`database`, `table` and `workgroup` over the curated prefix of `bucket`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket: s3.IBucket,
        key: kms.IKey | None,
        prefix: str,
        fields: Iterable[str],
    ):
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.database_name = database_name(stack.stack_name)
        self.table_name = TABLE_NAME
        self.location = f"s3://{bucket.bucket_name}/{prefix}"
        self.database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=stack.account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=self.database_name,
                description="Ongage exports curated to Parquet (ongage-export)",
            ),
        )
        self.table = glue.CfnTable(
            self,
            "Table",
            catalog_id=stack.account,
            database_name=self.database_name,
            table_input=self._table_input(fields),
        )
        self.table.add_dependency(self.database)
        self.workgroup = athena.CfnWorkGroup(
            self,
            "WorkGroup",
            name=f"{self.database_name}_exports",
            description="Queries over the curated Ongage exports; results encrypted "
            + ("(SSE-S3)" if key is None else "(SSE-KMS)"),
            recursive_delete_option=True,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{bucket.bucket_name}/{RESULTS_PREFIX}",
                    encryption_configuration=_results_encryption(key),
                ),
            ),
        )

    def _table_input(self, fields: Iterable[str]) -> glue.CfnTable.TableInputProperty:
        columns = [glue.CfnTable.ColumnProperty(**column) for column in table_columns(fields)]
        return glue.CfnTable.TableInputProperty(
            name=self.table_name,
            description="One row per contact of every curated export; query with WHERE list = ...",
            table_type="EXTERNAL_TABLE",
            parameters=projection_parameters(self.location),
            partition_keys=[
                glue.CfnTable.ColumnProperty(name="list", type="string"),
                glue.CfnTable.ColumnProperty(name="date", type="string"),
            ],
            storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                location=self.location,
                input_format=PARQUET_INPUT,
                output_format=PARQUET_OUTPUT,
                serde_info=glue.CfnTable.SerdeInfoProperty(serialization_library=PARQUET_SERDE),
                columns=columns,
            ),
        )


def _results_encryption(
    key: kms.IKey | None,
) -> athena.CfnWorkGroup.EncryptionConfigurationProperty:
    """Query results (contact data) SSE-KMS under `key` when there is one, SSE-S3 else."""
    if key is None:
        return athena.CfnWorkGroup.EncryptionConfigurationProperty(encryption_option="SSE_S3")
    return athena.CfnWorkGroup.EncryptionConfigurationProperty(
        encryption_option="SSE_KMS", kms_key=key.key_arn
    )
