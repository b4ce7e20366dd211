"""The MQTT gateway: relays device requests to the ledger nodes and drives TGDH rounds.

See docs/gateway.md. ``python -m gateway --config gateway.toml`` runs the service.
"""
