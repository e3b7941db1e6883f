"""The Whoosh engine: an embedded index in a folder (the default). The only package that imports whoosh."""
