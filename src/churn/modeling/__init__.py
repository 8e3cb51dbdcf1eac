"""The churn model and what it is judged against: training rows, the calibrated xgboost model,
its base margin, the baselines (recency, logistic RFM, BG/NBD), CLV models and backtests."""
