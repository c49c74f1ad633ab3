"""Built-in catalogs and reference data (YAML), with their source ids."""
