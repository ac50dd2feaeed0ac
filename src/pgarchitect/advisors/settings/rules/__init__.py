"""One module per setting rule."""
