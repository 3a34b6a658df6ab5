"""Adapters: what talks to the outside (Synnex, Graph, Table Storage, queues, Key Vault)."""
