"""The merge service: combine per-repo records into the user's bundle."""
