"""The pages of the UI, one module per area; each has ``routes(ui)``."""
