"""The Accounting API (`/api.xro/2.0/...`), one module per collection."""
