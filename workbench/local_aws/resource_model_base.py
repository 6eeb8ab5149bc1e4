"""What every CloudFormation model of local_aws shares (resource_models.py, apigateway_models.py):
its type and name property, the parse of its properties, a physical id and attributes.
"""

from __future__ import annotations

from typing import Any

from moto.cloudformation.exceptions import UnformattedGetAttTemplateException


class CreatedResource:
    """What every model here shares: its type and name property, the parse of its properties,
    a physical id for `Ref` and attributes for `Fn::GetAtt`. A model names `TYPE` (and
    `NAME_PROPERTY` when the resource has one) and says what to create in `create`."""

    TYPE = ""
    NAME_PROPERTY = ""

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.TYPE

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.NAME_PROPERTY

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str,
        **kwargs: Any,
    ) -> Any:  # fmt: skip
        return cls.create(resource_name, _properties(cloudformation_json), account_id, region_name)

    @classmethod
    def create(cls, name: str, props: Any, account_id: str, region_name: str) -> Any:
        return cls(name)

    def __init__(self, physical_id: str, **attributes: Any):
        self._physical_id = physical_id
        self._attributes = attributes

    @property
    def physical_resource_id(self) -> str:
        return self._physical_id

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name not in self._attributes:
            raise UnformattedGetAttTemplateException()
        return self._attributes[attribute_name]

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return True

    def is_created(self) -> bool:
        return True

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any,
        account_id: str, region_name: str,
    ) -> Any:  # fmt: skip
        """Made again from the new properties, the old one removed first (same name)."""
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )

    def delete(self, account_id: str, region_name: str) -> None:
        """What deleting it removes; most here are settings the next value overwrites."""

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        return None


def _properties(cloudformation_json: dict[str, Any]) -> Any:
    """The resource's properties; Any, as moto's backends type optional arguments loosely."""
    return dict(cloudformation_json.get("Properties") or {})
