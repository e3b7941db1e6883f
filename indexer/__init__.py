"""indexer: article HTML -> Article -> sections in the Whoosh index."""
