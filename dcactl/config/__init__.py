"""portfolio.toml → frozen, validated dataclasses: parse (``files``), schema (``schema``), checks, keys."""
