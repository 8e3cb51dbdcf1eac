"""Today's at-risk list: the scoring population, probabilities, tiers, value, ranking, SHAP
reason codes, recommended actions, the outreach slice and its control group."""
