from pax.data.store import DatasetStore, geometry_hash, labelled_atoms

__all__ = ["DatasetStore", "geometry_hash", "labelled_atoms"]
