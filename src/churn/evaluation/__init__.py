"""How good a ranking of customers is: metrics, curves and segments of held-out predictions."""
