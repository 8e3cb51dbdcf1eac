"""At-risk lists as files that a CRM (Salesforce, HubSpot, Dynamics 365) imports as they are."""
