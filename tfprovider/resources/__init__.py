"""Resource types served by the provider."""
