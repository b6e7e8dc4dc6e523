"""The digest pipeline: select -> render -> outbox -> send."""
