"""After scoring: drift of the scored population against training, and how earlier lists did."""
