"""The Streamable HTTP sidecar (``thinkgate serve --http``): security, metrics, the ASGI app."""
