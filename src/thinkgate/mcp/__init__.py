"""The MCP surface: tools, resources and prompts over stdio (and later Streamable HTTP)."""
