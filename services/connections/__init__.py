"""Connecting a company to Xero: OAuth 2.0 with PKCE, organisation and defaults, categories,
disconnect, and the setup page a person clicks through."""
