"""The report: retention metrics, figures of the model, retention and SHAP, and the HTML page."""
