"""Past retention campaigns: their outcomes, what each action did, and uplift models."""
