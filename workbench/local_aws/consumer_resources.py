"""CloudFormation models for the resource types the optional consumer (`curated.enabled`) adds
that moto's CloudFormation skips: the Glue database and table, the Athena workgroup, and the
curate function's asynchronous-invoke settings (`AWS::Lambda::EventInvokeConfig`).

moto has the APIs behind them but no CloudFormation model, so it skipped each with a warning on
stderr (four in every `ongage-export run` with the consumer on) and `aws glue get-table` found
nothing. Each model makes the call the AWS API would; deleting the stack deletes them (so a
redeploy can create the same names again). Models are found as the direct subclasses of
`CloudFormationModel` (see `resource_models`, whose base they share).
"""

from __future__ import annotations

import contextlib
from typing import Any

from moto.athena.models import athena_backends
from moto.awslambda.exceptions import UnknownFunctionException
from moto.awslambda.utils import get_backend as lambda_backend
from moto.cloudformation import parsing
from moto.core.common_models import CloudFormationModel
from moto.glue.exceptions import DatabaseNotFoundException, TableNotFoundException
from moto.glue.models import glue_backends

from local_aws.resource_model_base import CreatedResource


class GlueDatabase(CreatedResource, CloudFormationModel):
    TYPE = "AWS::Glue::Database"

    @classmethod
    def create(cls, name: str, props: Any, account_id: str, region_name: str) -> GlueDatabase:
        database = props["DatabaseInput"]
        glue_backends[account_id][region_name].create_database(database["Name"], database)
        return cls(database["Name"])

    def delete(self, account_id: str, region_name: str) -> None:
        with contextlib.suppress(DatabaseNotFoundException):  # gone already
            glue_backends[account_id][region_name].delete_database(self.physical_resource_id)


class GlueTable(CreatedResource, CloudFormationModel):
    TYPE = "AWS::Glue::Table"

    @classmethod
    def create(cls, name: str, props: Any, account_id: str, region_name: str) -> GlueTable:
        table = props["TableInput"]
        backend = glue_backends[account_id][region_name]
        backend.create_table(props["DatabaseName"], table["Name"], table)
        return cls(table["Name"], database=props["DatabaseName"])

    def delete(self, account_id: str, region_name: str) -> None:
        backend = glue_backends[account_id][region_name]
        # gone already, or its database is
        with contextlib.suppress(DatabaseNotFoundException, TableNotFoundException):
            backend.delete_table(self._attributes["database"], self.physical_resource_id)


class AthenaWorkGroup(CreatedResource, CloudFormationModel):
    TYPE = "AWS::Athena::WorkGroup"
    NAME_PROPERTY = "Name"

    @classmethod
    def create(cls, name: str, props: Any, account_id: str, region_name: str) -> AthenaWorkGroup:
        athena_backends[account_id][region_name].create_work_group(
            props.get("Name", name),
            props.get("WorkGroupConfiguration", {}),
            props.get("Description", ""),
            props.get("Tags", []),
        )
        return cls(props.get("Name", name))

    def delete(self, account_id: str, region_name: str) -> None:
        athena_backends[account_id][region_name].delete_work_group(self.physical_resource_id)


class LambdaEventInvokeConfig(CreatedResource, CloudFormationModel):
    TYPE = "AWS::Lambda::EventInvokeConfig"

    @classmethod
    def create(
        cls, name: str, props: Any, account_id: str, region_name: str
    ) -> LambdaEventInvokeConfig:
        config = {k: v for k, v in props.items() if k not in ("FunctionName", "Qualifier")}
        backend = lambda_backend(account_id, region_name)
        backend.put_function_event_invoke_config(props["FunctionName"], config)
        return cls(
            f"{props['FunctionName']}:{props.get('Qualifier', '$LATEST')}",
            function=props["FunctionName"],
        )

    def delete(self, account_id: str, region_name: str) -> None:
        with contextlib.suppress(UnknownFunctionException):  # gone already, with its function
            backend = lambda_backend(account_id, region_name)
            backend.delete_function_event_invoke_config(self._attributes["function"])


MODELS = (GlueDatabase, GlueTable, AthenaWorkGroup, LambdaEventInvokeConfig)


def install() -> None:
    """The models exist once this module is imported; moto's caches must see them."""
    for cache in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cache.cache_clear()
