"""Live ingestion: the send-records API, the WhatsApp and Sinch webhooks and their inbox worker.

The server wires them in through `ingest.service`; commands use the light modules (keys,
channels, inbox) without loading the web endpoints.
"""
