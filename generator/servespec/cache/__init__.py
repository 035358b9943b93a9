"""Everything servespec keeps between runs, outside the repository (``$SERVESPEC_CACHE_DIR`` or
``~/.cache/servespec``): ``store.py`` (where and how cache files are kept, the code fingerprint),
``render.py`` (per-model rendered files and the stat of every rendered file),
``validation.py`` (earlier validation results per rendered file). A cache can only miss, never be wrong."""
