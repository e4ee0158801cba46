"""Built-in lexicon data (TOML), installed as the package `auditor.lexicons`."""
