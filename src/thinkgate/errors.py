"""The one exception hierarchy of ThinkGate.

Every error carries a stable machine-readable ``code`` that clients and tests may
rely on, and a message a model can act on. Third-party errors are translated into
these at the adapter boundary (``raise ... from exc``).

    ThinkGateError                      root; never raised itself
    ├── InvalidInput                    INVALID_INPUT      arguments malformed or out of range
    │   ├── InvalidSessionId            INVALID_SESSION_ID session id not path-safe
    │   ├── ThoughtTooLong              THOUGHT_TOO_LONG   thought over the length cap
    │   └── UnknownTool                 UNKNOWN_TOOL       no tool has that name
    ├── UnknownReference                UNKNOWN_THOUGHT    names a thought that does not exist
    │   └── UnknownRecord               UNKNOWN_REFERENCE  names a claim, assumption or decision that does not exist
    ├── CycleRefused                    CYCLE_REFUSED      a depends_on/refines edge would close a cycle
    ├── NodeInactive                    NODE_PRUNED        the node was pruned; it cannot grow or be linked
    ├── ModelUnavailable                MODEL_UNAVAILABLE  model-backed generation has no provider configured
    ├── Forbidden                       FORBIDDEN          the operator has not allowed this (e.g. over HTTP)
    ├── SessionNotFound                 SESSION_NOT_FOUND  no such session
    ├── LimitExceeded                   LIMIT_EXCEEDED     a configured cap would be exceeded
    ├── IdempotencyConflict             IDEMPOTENCY_CONFLICT same requestId, different arguments
    ├── VersionConflict                 VERSION_CONFLICT   optimistic concurrency lost; retriable
    ├── StoreError                      STORE_ERROR        the event store failed
    │   ├── StoreUnavailable            STORE_UNAVAILABLE  the store cannot be reached; retriable
    │   ├── StoreNotFound               STORE_NOT_FOUND    a read-only command named a store that does not exist
    │   └── SchemaMismatch              SCHEMA_MISMATCH    store schema unknown or newer than this code
    ├── IntegrityError                  INTEGRITY_ERROR    the hash chain does not verify
    ├── ConfigError                     CONFIG_ERROR       bad configuration (flags, env, store URL)
    └── InternalError                   INTERNAL           a bug: reported, never a silent pass
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "ConfigError",
    "CycleRefused",
    "Forbidden",
    "IdempotencyConflict",
    "IntegrityError",
    "InternalError",
    "InvalidInput",
    "InvalidSessionId",
    "LimitExceeded",
    "ModelUnavailable",
    "NodeInactive",
    "SchemaMismatch",
    "SessionNotFound",
    "StoreError",
    "StoreNotFound",
    "StoreUnavailable",
    "ThinkGateError",
    "ThoughtTooLong",
    "UnknownRecord",
    "UnknownReference",
    "UnknownTool",
    "VersionConflict",
]


class ThinkGateError(Exception):
    """Root of every error ThinkGate raises on purpose."""

    code: ClassVar[str] = "INTERNAL"
    retriable: ClassVar[bool] = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class InvalidInput(ThinkGateError):
    """Arguments are malformed or out of range."""

    code = "INVALID_INPUT"


class InvalidSessionId(InvalidInput):
    """A session id is not path-safe."""

    code = "INVALID_SESSION_ID"


class ThoughtTooLong(InvalidInput):
    """A thought is longer than the configured cap."""

    code = "THOUGHT_TOO_LONG"


class UnknownTool(InvalidInput):
    """No tool has the requested name."""

    code = "UNKNOWN_TOOL"


class UnknownReference(ThinkGateError):
    """A command names a thought that does not exist in its session."""

    code = "UNKNOWN_THOUGHT"


class UnknownRecord(UnknownReference):
    """A command names a claim, assumption or decision that does not exist in its session."""

    code = "UNKNOWN_REFERENCE"


class CycleRefused(ThinkGateError):
    """A ``depends_on`` or ``refines`` edge would close a cycle in the strict subgraph."""

    code = "CYCLE_REFUSED"


class NodeInactive(ThinkGateError):
    """The node was pruned: it cannot be expanded, refined, merged or linked."""

    code = "NODE_PRUNED"


class ModelUnavailable(ThinkGateError):
    """Model-backed generation was asked for but no model provider is configured."""

    code = "MODEL_UNAVAILABLE"


class Forbidden(ThinkGateError):
    """The operator has not allowed this (for example listing sessions over HTTP)."""

    code = "FORBIDDEN"


class SessionNotFound(ThinkGateError):
    """No session has the given id."""

    code = "SESSION_NOT_FOUND"


class LimitExceeded(ThinkGateError):
    """A configured cap (thoughts per session, sessions) would be exceeded."""

    code = "LIMIT_EXCEEDED"


class IdempotencyConflict(ThinkGateError):
    """A requestId was reused with different arguments."""

    code = "IDEMPOTENCY_CONFLICT"


class VersionConflict(ThinkGateError):
    """Another writer appended to the session first (optimistic concurrency)."""

    code = "VERSION_CONFLICT"
    retriable = True


class StoreError(ThinkGateError):
    """The event store failed."""

    code = "STORE_ERROR"


class StoreUnavailable(StoreError):
    """The event store cannot be reached right now."""

    code = "STORE_UNAVAILABLE"
    retriable = True


class StoreNotFound(StoreError):
    """A command that only reads named a store that does not exist (it is not created)."""

    code = "STORE_NOT_FOUND"


class SchemaMismatch(StoreError):
    """The store's schema is unknown to, or newer than, this version of ThinkGate."""

    code = "SCHEMA_MISMATCH"


class IntegrityError(ThinkGateError):
    """An event log's hash chain does not verify."""

    code = "INTEGRITY_ERROR"


class ConfigError(ThinkGateError):
    """The configuration (flags, environment, store URL) is invalid."""

    code = "CONFIG_ERROR"


class InternalError(ThinkGateError):
    """An unexpected failure inside ThinkGate (a bug); the call fails, nothing is half-done."""

    code = "INTERNAL"
