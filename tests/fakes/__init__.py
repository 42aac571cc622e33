"""Local fake servers that speak cloud APIs' documented wire formats (the only fakes allowed)."""
