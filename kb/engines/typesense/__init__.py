"""The Typesense engine: a replicated cluster for scale-out. The only package that imports typesense."""
