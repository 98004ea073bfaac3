"""The contract between the tfplugin6 servicer and a managed resource type.

Requests and results are plain data holding cty values (dicts, ``Decimal``, ``Unknown`` …), so
resource logic is testable without gRPC and untouched by protocol changes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from tfprovider.diagnostics import Diagnostic, PathStep
from tfprovider.schema import IdentitySchema, Schema

if TYPE_CHECKING:
    from tfprovider.cloud import OrgToken, PulumiCloudClient
    from tfprovider.resources.token_lists import TokenLists

ObjectValue = dict[str, Any]
"""A decoded cty object: attribute name → value (``None`` for null, ``Unknown`` for unknown)."""


@dataclass(frozen=True)
class OperationContext:
    """What an operation may use beyond its request: the API client, the shared token lists
    and the stop signal.

    ``client`` is a callable so that a configuration problem (say, no access token) surfaces
    only when an operation really needs the API, as a diagnostic, never at validate time.
    """

    client: Callable[[], PulumiCloudClient]
    tokens: TokenLists
    stopped: threading.Event


@dataclass(frozen=True)
class PlanRequest:
    prior: ObjectValue | None
    proposed: ObjectValue | None
    config: ObjectValue | None
    prior_private: bytes = b""
    known_tokens: Callable[[str], Mapping[str, OrgToken] | None] | None = None
    """An organization's tokens if this process has already listed them (during refresh), else
    None. Never fetches: planning a new token must not need the API or credentials."""


@dataclass
class PlanResult:
    planned: ObjectValue | None
    requires_replace: list[tuple[PathStep, ...]] = field(default_factory=list)
    planned_private: bytes = b""
    diagnostics: list[Diagnostic] = field(default_factory=list)


@dataclass(frozen=True)
class ApplyRequest:
    prior: ObjectValue | None
    planned: ObjectValue | None
    config: ObjectValue | None
    planned_private: bytes = b""


@dataclass
class ApplyResult:
    new_state: ObjectValue | None
    private: bytes = b""
    diagnostics: list[Diagnostic] = field(default_factory=list)


@dataclass(frozen=True)
class ReadRequest:
    current: ObjectValue
    private: bytes = b""


@dataclass
class ReadResult:
    new_state: ObjectValue | None
    private: bytes = b""
    diagnostics: list[Diagnostic] = field(default_factory=list)


@dataclass
class ImportResult:
    states: list[ObjectValue] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)


class ManagedResource(Protocol):
    """A managed resource type served by this provider.

    Identity (Terraform 1.12+) is a function of state: ``identity`` derives it from any state the
    resource returns, so the servicer attaches it to reads, plans, applies and imports alike and
    it can never disagree with the state it travels with. It is None when the state does not
    (yet) name a remote object, e.g. while ``token_id`` is unknown in the plan of a create.
    """

    type_name: ClassVar[str]
    schema: ClassVar[Schema]
    identity_schema: ClassVar[IdentitySchema]

    def validate(self, config: ObjectValue) -> list[Diagnostic]: ...

    def plan(self, request: PlanRequest) -> PlanResult: ...

    def apply(self, request: ApplyRequest, context: OperationContext) -> ApplyResult: ...

    def read(self, request: ReadRequest, context: OperationContext) -> ReadResult: ...

    def import_state(self, resource_id: str, context: OperationContext) -> ImportResult: ...

    def import_identity(self, identity: ObjectValue, context: OperationContext) -> ImportResult: ...

    def identity(self, state: ObjectValue) -> ObjectValue | None: ...

    def generate_config(self, state: ObjectValue) -> ObjectValue: ...


# -- ephemeral resources ---------------------------------------------------------------------------


@dataclass
class OpenResult:
    """What an open produced: the ``result`` Terraform hands to the configuration (never stored),
    and ``private`` bytes it hands back to ``close`` — enough to find the remote object, never a
    secret."""

    result: ObjectValue | None
    private: bytes = b""
    diagnostics: list[Diagnostic] = field(default_factory=list)


class EphemeralResource(Protocol):
    """An ephemeral resource type (Terraform 1.10+): opened for one run, closed at its end."""

    type_name: ClassVar[str]
    schema: ClassVar[Schema]

    def validate(self, config: ObjectValue) -> list[Diagnostic]: ...

    def open(self, config: ObjectValue, context: OperationContext) -> OpenResult: ...

    def renew(self, private: bytes, context: OperationContext) -> list[Diagnostic]: ...

    def close(self, private: bytes, context: OperationContext) -> list[Diagnostic]: ...
