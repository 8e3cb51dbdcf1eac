"""Raw behaviour in: the input contract that maps a user's columns onto canonical tables,
summaries of the canonical events, and the subscription simulator."""
