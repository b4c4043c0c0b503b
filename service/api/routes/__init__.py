"""The API's routes, one module (and one OpenAPI tag) per concern."""
