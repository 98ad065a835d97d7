"""ThinkGate: an auditable reasoning and verification runtime for AI agents, served over MCP."""

__version__ = "0.1.0"

__all__ = ["__version__"]
