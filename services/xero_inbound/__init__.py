"""Xero to Roger: Xero's webhooks in, what changed in Xero out on ``roger.sync-back``."""
